"""The chat page: a thin Gradio layer over rag.pipeline. Run `python app.py` or `rag serve`."""
from __future__ import annotations

import logging
import os

import gradio as gr

from rag import ui
from rag.errors import RagError
from rag.evaluate import answer_to_json
from rag.pipeline import Pipeline, pipeline_for
from rag.rewrite import Turn
from rag.settings import load_settings

log = logging.getLogger("rag.app")
MAX_TURNS = 3  # earlier turns a follow-up question may lean on


def build_app(pipe: Pipeline) -> gr.Blocks:
    """The chat UI for a ready pipeline (index loaded)."""

    def respond(question: str, history: list[dict], turns: list[Turn]):
        history, turns = list(history or []), list(turns or [])
        if not (question or "").strip():
            yield history, ui.sources_html(None), "", turns
            return
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": "…"}]
        yield history, ui.sources_html(None), "", turns
        try:
            streamed = ""
            for event in pipe.stream(question, history=turns[-MAX_TURNS:]):
                if event.kind == "passages":
                    yield history, ui.sources_html(None, list(event.passages), event.text), "", turns
                elif event.kind == "token":
                    streamed += event.text
                    history[-1] = {"role": "assistant", "content": streamed}
                    yield history, gr.skip(), "", turns
                else:
                    answer = event.answer
                    history[-1] = {"role": "assistant", "content": ui.answer_markdown(answer)}
                    turns.append(Turn(answer.query or answer.question, "" if answer.refused else answer.text))
                    yield history, ui.sources_html(answer), "", turns
        except RagError as exc:
            history[-1] = {"role": "assistant", "content": f"⚠️ {exc}"}
            yield history, ui.sources_html(None), "", turns

    def answer_api(question: str) -> dict:
        """One question in, the `rag ask --json` object out (for gradio_client)."""
        try:
            return answer_to_json(pipe.ask(question))
        except RagError as exc:
            return {"question": question, "error": str(exc)}

    index = pipe.index
    info = (f"资料库：{len(index.articles)} 篇文章，{len(index.chunks)} 个段落 · "
            f"嵌入模型 {index.manifest['embedder']['name']} · "
            f"生成：{pipe.generator.name if pipe.generator else '摘录模式（无语言模型）'}") if index else ""
    with gr.Blocks(title="湖南日报资料问答") as demo:
        gr.Markdown("## 湖南日报资料问答\n只根据已收录的报纸版面回答，每句话都注明出处；资料里没有的，会直说没有找到。")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(label="对话", height=460, elem_id="chat", buttons=["copy", "copy_all"])
                box = gr.Textbox(label="您的问题", placeholder="例如：益阳为什么能成为长株潭都市圈扩群的首选？",
                                 lines=1, max_lines=4, elem_id="question")
                with gr.Row():
                    send = gr.Button("提问", variant="primary", elem_id="send")
                    stop = gr.Button("停止", variant="stop", elem_id="stop")
                    clear = gr.Button("新对话", elem_id="new-chat")
                examples = ui.example_questions(index)
                if examples:
                    gr.Examples(examples=[[q] for q in examples], inputs=box, label="示例问题")
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(ui.sources_html(None), label="来源", elem_id="sources")
        gr.Markdown(info, elem_id="index-info")
        hidden_q = gr.Textbox(visible=False)
        hidden_out = gr.JSON(visible=False)
        turns = gr.State([])  # standalone questions and answers of this conversation, for follow-ups
        asking = [send.click(respond, [box, chat, turns], [chat, sources, box, turns], api_name="chat"),
                  box.submit(respond, [box, chat, turns], [chat, sources, box, turns], api_name=False)]
        # Stopping closes the answer generator, which tells the model to stop at its next token.
        stop.click(None, None, None, cancels=asking, api_name=False)
        clear.click(lambda: ([], ui.sources_html(None), "", []), None, [chat, sources, box, turns], api_name=False)
        hidden_q.submit(answer_api, hidden_q, hidden_out, api_name="ask")
    return demo


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from rag.cli import _Bar

    settings = load_settings()
    pipe = pipeline_for(settings, _Bar())
    pipe.retrieve("预热")  # loads the embedder now, not on the first user's question
    if pipe.generator is not None and hasattr(pipe.generator, "warm_up"):
        try:
            pipe.generator.warm_up()
        except RagError as exc:
            log.warning("LLM unavailable, answering extractively: %s", exc)
            pipe.generator, pipe.notice = None, "语言模型不可用，已改用摘录模式（直接引用原文句子）。"
    port = int(os.environ.get("RAG_PORT") or settings.port)
    build_app(pipe).queue(default_concurrency_limit=1).launch(
        server_name=settings.host, server_port=port, css=ui.CSS, theme=gr.themes.Soft(), show_error=False)


if __name__ == "__main__":
    main()
