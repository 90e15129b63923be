"""The chat page: a thin Gradio layer over rag.pipeline. Run `python app.py` or `rag serve`."""
from __future__ import annotations

import logging
import os

import gradio as gr

from rag import library, ui
from rag.errors import RagError
from rag.evaluate import answer_to_json
from rag.ingest.readers import MAX_FILE_BYTES, SUPPORTED
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

    def index_info() -> str:
        index = pipe.index
        if index is None:
            return ""
        return (f"资料库：{len(index.articles)} 篇文章，{len(index.chunks)} 个段落 · 建于 {index.manifest.get('created', '')} · "
                f"嵌入模型 {index.manifest['embedder']['name']} · "
                f"生成：{pipe.generator.name if pipe.generator else '摘录模式（无语言模型）'}")

    def kb_rows(docs: list[library.Document]) -> list[list]:
        return [[d.name, d.articles, d.chunks, d.date, d.error and f"未能读取：{d.error}" or d.titles] for d in docs]

    def kb_view(status: str) -> tuple:
        """What every knowledge-base action shows afterwards: its status, the table, the file choices, the info line."""
        docs = library.documents(pipe.index)
        return status, kb_rows(docs), gr.update(choices=[d.name for d in docs], value=None), index_info()

    def reindex(message: str, progress: gr.Progress) -> tuple:
        def report(text: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=text.split(" · ")[0])

        try:
            summary = pipe.reindex(progress=report) or "资料没有变化，索引已是最新。"
            status = (message + "\n\n" if message else "") + "索引已更新：" + summary.replace("\n", "；")
        except RagError as exc:
            status = (message + "\n\n" if message else "") + f"⚠️ {exc}"
        return kb_view(status)

    def on_upload(files, progress=gr.Progress()):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        added, refused = library.add_files(paths, pipe.settings.seeds_dir)
        lines = [f"已加入：{'、'.join(added)}"] if added else []
        lines += [f"未加入：{r}" for r in refused]
        if not added:
            return kb_view("\n\n".join(lines) or "没有选择文件。")
        return reindex("\n\n".join(lines), progress)

    def on_remove(name: str | None, progress=gr.Progress()):
        if not name:
            return kb_view("请先选择要移除的文件。")
        try:
            where = library.remove_file(name, pipe.settings.seeds_dir)
        except RagError as exc:
            return kb_view(f"⚠️ {exc}")
        return reindex(f"已移除 {name}（文件移到 {where}，可以找回）。", progress)

    def on_reindex(progress=gr.Progress()):
        return reindex("", progress)

    index = pipe.index
    with gr.Blocks(title="湖南日报资料问答") as demo:
        gr.Markdown("## 湖南日报资料问答\n只根据已收录的报纸版面回答，每句话都注明出处；资料里没有的，会直说没有找到。")
        with gr.Tab("问答", elem_id="tab-chat"):
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
        with gr.Tab("资料库", elem_id="tab-library"):
            gr.Markdown("上传新的版面或文章后会自动更新索引；更新期间仍可正常提问（用的是旧索引）。")
            upload = gr.File(label=f"上传文件（{'、'.join(sorted(SUPPORTED))}；单个不超过 {MAX_FILE_BYTES // 1_000_000} MB）",
                             file_count="multiple", elem_id="kb-upload")
            kb_status = gr.Markdown(elem_id="kb-status")
            docs = library.documents(index)
            table = gr.Dataframe(value=kb_rows(docs), headers=["文件", "文章数", "段落数", "日期", "标题"],
                                 interactive=False, wrap=True, elem_id="kb-table")
            with gr.Row():
                pick = gr.Dropdown(choices=[d.name for d in docs], label="选择文件",
                                   elem_id="kb-pick")
                remove = gr.Button("移除该文件", elem_id="kb-remove")
                rebuild = gr.Button("重建索引", elem_id="kb-reindex")
        info = gr.Markdown(index_info(), elem_id="index-info")
        kb_outputs = [kb_status, table, pick, info]
        upload.upload(on_upload, upload, kb_outputs, api_name=False)
        remove.click(on_remove, pick, kb_outputs, api_name=False)
        rebuild.click(on_reindex, None, kb_outputs, api_name=False)
        hidden_q = gr.Textbox(visible=False)
        hidden_out = gr.JSON(visible=False)
        turns = gr.State([])  # standalone questions and answers of this conversation, for follow-ups
        send.click(respond, [box, chat, turns], [chat, sources, box, turns], api_name="chat")
        box.submit(respond, [box, chat, turns], [chat, sources, box, turns], api_name=False)
        # Stop tells the model to stop at its next token; the answer so far is then checked and shown as
        # usual. (Gradio's own event cancelling left the next question unanswered.)
        stop.click(pipe.cancel, None, None, api_name=False, concurrency_limit=None)
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
