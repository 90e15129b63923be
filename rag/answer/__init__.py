"""The answer stage, once the passages are retrieved: read -> refuse, or prompt -> generate -> check -> answer.

`stage.AnswerStage` runs it for one analysed question (`asked.Question`) over its passages, with the steps
that are on (`steps.Checker`), over the prompt of `prompt.py` and `budget.py`; what the model said is cut into
claims (`claims.py`), each checked against its cited sentence (`cite.py`, `english.py`, `figures.py`), and the
model asked whether its answer stands (`confirm.py`); with no model, `extract.py` quotes the best sentence.
`rag/pipeline.py` wires the models, fronts the index, keeps the line in front of the model and the failure
policy, and calls it.
"""
