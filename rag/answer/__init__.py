"""The answer stage, once the passages are retrieved: read -> refuse, or prompt -> generate -> check -> answer.

`stage.AnswerStage` runs it for one analysed question (`asked.Question`) over its passages, with the steps
that are on (`rag/steps.py`); `rag/pipeline.py` wires the models, fronts the index, keeps the line in front of
the model and the failure policy, and calls it.
"""
