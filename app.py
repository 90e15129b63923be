"""The chat page: a thin Gradio layer over rag.pipeline. Run `python app.py` or `rag serve`."""
from __future__ import annotations

import logging
import logging.handlers
import os
import threading
import time
from pathlib import Path

import gradio as gr

from rag import auth, library, stall, ui
from rag.chat import Chat, session_of as _session
from rag.errors import RagError
from rag.evaluate import answer_to_json
from rag.ingest.readers import MAX_FILE_BYTES, SUPPORTED
from rag.pipeline import RETRIEVAL_MODES, Pipeline, pipeline_for
from rag.prefill import Prefiller
from rag.rewrite import Turn
from rag.settings import load_settings
from rag.warm import warm_up

log = logging.getLogger("rag.app")
MAX_TURNS = 3  # earlier turns a follow-up question may lean on
ANSWERING = 8  # questions retrieving or waiting for the model at once; more wait in Gradio's queue
# the API's error (the page says it in its own language): one sentence for both, since a client has no language
INTERNAL_ERROR = "出了点问题，已记录在日志里，请再试一次。(Something went wrong; it was logged. Please try again.)"


class Warmup:
    """Loads the models in the background after the page is up, and says how far it got.

    Questions asked meanwhile simply wait for the model they need (the loaders take locks)."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.done = threading.Event()
        self.steps: dict[str, str] = {}
        self.times: dict = {}
        self.seconds = 0.0

    def run(self) -> None:
        t0 = time.perf_counter()
        try:
            self.times = warm_up(self.pipe, self.steps.__setitem__)
        except Exception:
            log.exception("warming up failed")
            self.steps = {k: ("failed" if v == "loading" else v) for k, v in self.steps.items()}
        finally:
            self.seconds = time.perf_counter() - t0
            log.info("models warm after %.1f s: %s %s", self.seconds, self.steps, self.times)
            self.done.set()

    def start(self) -> Warmup:
        threading.Thread(target=self.run, name="warm-up", daemon=True).start()
        return self

    def status(self, lang: str = "zh") -> str:
        names = {"embedder": ui.t(lang, "embedder_model"), "llm": ui.t(lang, "llm_model")}
        marks = {"loading": "⏳", "ready": "✅", "failed": "⚠️"}
        parts = [f"{marks.get(state, '⏳')} {names[key]}" for key, state in self.steps.items()]
        if self.done.is_set():
            return ui.t(lang, "ready", seconds=f"{self.seconds:.0f}") if "failed" not in self.steps.values() \
                else ui.t(lang, "partly_ready") + " · " + " · ".join(parts)
        return ui.t(lang, "loading") + (" · " + " · ".join(parts) if parts else "")


def build_app(pipe: Pipeline, warmup: Warmup | None = None) -> gr.Blocks:
    """The chat UI for a pipeline whose index is loaded; with `warmup`, a status line follows the models
    loading in the background."""
    llm_name = pipe.generator.name if pipe.generator is not None else ""
    # While the question is typed, the model's cache is filled with the prompt it would have (rag/prefill.py):
    # on Enter only what differs is prefilled. It listens to the box's change events (its input events do not
    # fire for keystrokes in this Gradio), every one sent ("multiple"), and posts the text to the prefiller's
    # worker, which fills the newest text without waiting for a pause in the typing.
    prefiller = Prefiller(pipe)
    # a question sent: into its session's conversation, answered in its turn, its bubble streamed (rag/chat.py)
    chat_turns = Chat(pipe, prefiller, MAX_TURNS)

    def backend_choices(lang: str) -> list[tuple[str, str]]:
        return ([(ui.model_label(llm_name, lang), "llm")] if llm_name else []) + [(ui.t(lang, "extractive"), "extractive")]

    def answer_api(question: str) -> dict:
        """One question in, the `rag ask --json` object out (for gradio_client)."""
        try:
            with stall.Watch("api question", state=pipe.line.describe):
                return answer_to_json(pipe.ask(question))
        except RagError as exc:
            return {"question": question, "error": str(exc)}
        except Exception:
            log.exception("answering %r failed", (question or "")[:200])
            return {"question": question, "error": INTERNAL_ERROR}

    def index_info(lang: str = "zh") -> str:
        index = pipe.index
        if index is None:
            return ""
        return ui.t(lang, "info", articles=len(index.articles), chunks=len(index.chunks),
                    created=index.manifest.get("created", ""), embedder=index.manifest["embedder"]["name"],
                    generator=ui.model_label(pipe.generator.name, lang) if pipe.generator is not None
                    else ui.t(lang, "no_llm"))

    def kb_table(docs: list[library.Document], lang: str = "zh") -> dict:
        rows = [[d.name, d.articles, d.chunks, d.date, d.error and f"{ui.t(lang, 'unreadable')}{d.error}" or d.titles]
                for d in docs]
        return {"data": rows, "headers": ui.t(lang, "headers").split("|")}

    def kb_view(status: str, lang: str = "zh") -> tuple:
        """What every knowledge-base action shows afterwards: its status, the table, the file choices, the info line."""
        docs = library.documents(pipe.index)
        return status, kb_table(docs, lang), gr.update(choices=[d.name for d in docs], value=None), index_info(lang)

    def reindex(message: str, progress: gr.Progress, lang: str) -> tuple:
        def report(text: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=text.split(" · ")[0])

        head = message + "\n\n" if message else ""
        try:
            summary = pipe.reindex(progress=report, lang=lang) or ui.t(lang, "index_same")
            status = head + ui.t(lang, "index_updated") + summary.replace("\n", "；" if lang == "zh" else "; ")
        except RagError as exc:
            status = head + f"⚠️ {exc}"
        except Exception:
            log.exception("re-indexing failed")
            status = head + ui.t(lang, "index_failed") + ui.t(lang, "internal_error")
        return kb_view(status, lang)

    cleared = gr.update(value=None)  # the upload box, emptied after each upload so no file is sent twice

    def on_upload(files, lang: str = "zh", progress=gr.Progress()):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        added, refused = library.add_files(paths, pipe.settings.seeds_dir, lang)
        lines = [ui.t(lang, "added", names=ui.listed(added, lang))] if added else []
        lines += [ui.t(lang, "not_added", why=r) for r in refused]
        if not added:
            return kb_view("\n\n".join(lines) or ui.t(lang, "no_files"), lang) + (cleared,)
        return reindex("\n\n".join(lines), progress, lang) + (cleared,)

    def on_remove(name: str | None, lang: str = "zh", progress=gr.Progress()):
        if not name:  # nothing picked, or the confirmation was declined
            return kb_view(ui.t(lang, "pick_first"), lang)
        try:
            where = library.remove_file(name, pipe.settings.seeds_dir)
        except RagError as exc:
            return kb_view(f"⚠️ {exc}", lang)
        return reindex(ui.t(lang, "removed_file", name=name, where=where), progress, lang)

    def on_reindex(lang: str = "zh", progress=gr.Progress()):
        return reindex("", progress, lang)

    index = pipe.index
    s = pipe.settings

    def upload_label(lg: str) -> str:
        return ui.t(lg, "upload", types=ui.file_types(SUPPORTED, lg), mb=MAX_FILE_BYTES // 1_000_000)

    # Gradio's copies of uploaded files are deleted after a day (they are copied into seeds/ at once).
    with gr.Blocks(title="湖南日报资料问答", delete_cache=(3600, 86400)) as demo:
        with gr.Row(equal_height=True):
            title = gr.Markdown(ui.t("zh", "title"))
            lang = gr.Radio(ui.LANGUAGES, value="zh", label="语言 / Language", elem_id="lang", scale=0, min_width=180)
        with gr.Tab(ui.t("zh", "tab_chat"), elem_id="tab-chat") as tab_chat:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chat = gr.Chatbot(label=ui.t("zh", "chat"), height=460, elem_id="chat",
                                      buttons=["copy", "copy_all"])
                    box = gr.Textbox(label=ui.t("zh", "question"), placeholder=ui.t("zh", "placeholder"),
                                     lines=1, max_lines=4, elem_id="question")
                    with gr.Row():
                        send = gr.Button(ui.t("zh", "send"), variant="primary", elem_id="send")
                        stop = gr.Button(ui.t("zh", "stop"), variant="stop", elem_id="stop")
                        clear = gr.Button(ui.t("zh", "new"), elem_id="new-chat")
                with gr.Column(scale=2, min_width=320):
                    sources = gr.HTML(ui.sources_html(None), label=ui.t("zh", "sources"), elem_id="sources")
            # Below both columns: on a phone the sources come right after the answer, these after them.
            # one set of example questions a language, the other's hidden
            examples = {lg: gr.Examples(examples=[[q] for q in ui.example_questions(index, lg)], inputs=box,
                                        label=ui.t(lg, "examples"), visible=lg == "zh", elem_id=f"examples-{lg}")
                        for _, lg in ui.LANGUAGES}
            with gr.Accordion(ui.t("zh", "settings"), open=False, elem_id="settings") as settings_box:
                top_k = gr.Slider(1, 8, value=s.top_k, step=1, label=ui.t("zh", "top_k"), elem_id="set-top-k")
                length = gr.Radio([(ui.t("zh", k), k) for k in ui.LENGTHS], value="normal",
                                  label=ui.t("zh", "length"), elem_id="set-length")
                backend = gr.Radio(backend_choices("zh"), value="llm" if llm_name else "extractive",
                                   label=ui.t("zh", "backend"), elem_id="set-backend")
                mode = gr.Radio([(ui.t("zh", m), m) for m in RETRIEVAL_MODES], value="hybrid",
                                label=ui.t("zh", "mode"), elem_id="set-mode")
        with gr.Tab(ui.t("zh", "tab_library"), elem_id="tab-library") as tab_library:
            library_note = gr.Markdown(ui.t("zh", "library_note"))
            upload = gr.File(label=upload_label("zh"), file_count="multiple", elem_id="kb-upload")
            kb_status = gr.Markdown(elem_id="kb-status")
            docs = library.documents(index)
            table = gr.Dataframe(value=kb_table(docs), interactive=False, wrap=True, elem_id="kb-table")
            with gr.Row():
                pick = gr.Dropdown(choices=[d.name for d in docs], value=None, label=ui.t("zh", "pick"),
                                   elem_id="kb-pick")
                remove = gr.Button(ui.t("zh", "remove"), elem_id="kb-remove")
                rebuild = gr.Button(ui.t("zh", "reindex"), elem_id="kb-reindex")
        info = gr.Markdown(index_info(), elem_id="index-info")
        if warmup is not None:
            status = gr.Markdown(warmup.status(), elem_id="model-status")
            timer = gr.Timer(1.0, active=not warmup.done.is_set())

            def tick(lg: str):
                # Once loading is over, the status says so one last time and the timer stops.
                return warmup.status(lg), gr.Timer(active=not warmup.done.is_set()), index_info(lg)

            timer.tick(tick, lang, [status, timer, info], api_name=False, queue=False, show_progress="hidden")

        def relabel(lg: str, backend_value: str, earlier: list):
            """Every label in the chosen language; values and the conversation stay as they are."""
            extra = (warmup.status(lg),) if warmup is not None else ()
            # The sources panel: its label, and the empty panel's line when no answer is there yet.
            empty = {} if earlier else {"value": ui.sources_html(None, lang=lg)}
            panel = gr.update(label=ui.t(lg, "sources"), **empty)
            return extra + (ui.t(lg, "title"), gr.update(label=ui.t(lg, "tab_chat")), gr.update(label=ui.t(lg, "chat")),
                    gr.update(label=ui.t(lg, "question"), placeholder=ui.t(lg, "placeholder")),
                    gr.update(value=ui.t(lg, "send")), gr.update(value=ui.t(lg, "stop")),
                    gr.update(value=ui.t(lg, "new")), gr.update(label=ui.t(lg, "settings")),
                    gr.update(label=ui.t(lg, "top_k")),
                    gr.update(label=ui.t(lg, "length"), choices=[(ui.t(lg, k), k) for k in ui.LENGTHS]),
                    gr.update(label=ui.t(lg, "backend"), choices=backend_choices(lg), value=backend_value),
                    gr.update(label=ui.t(lg, "mode"), choices=[(ui.t(lg, m), m) for m in RETRIEVAL_MODES]),
                    panel, gr.update(label=ui.t(lg, "tab_library")),
                    ui.t(lg, "library_note"), gr.update(label=upload_label(lg)),
                    kb_table(library.documents(pipe.index), lg), gr.update(label=ui.t(lg, "pick")),
                    gr.update(value=ui.t(lg, "remove")), gr.update(value=ui.t(lg, "reindex")), index_info(lg)) + \
                tuple(gr.update(visible=lg == other) for other in examples)

        turns = gr.State([])  # standalone questions and answers of this conversation, for follow-ups
        earlier = gr.State([])  # (number, question, sources HTML) of each answer so far, for the panel
        lang.change(relabel, [lang, backend, earlier],
                    ([status] if warmup is not None else []) +
                    [title, tab_chat, chat, box, send, stop, clear, settings_box, top_k, length, backend,
                     mode, sources, tab_library, library_note, upload, table, pick, remove, rebuild, info] +
                    [e.dataset for e in examples.values()], api_name=False, queue=False)
        kb_outputs = [kb_status, table, pick, info]
        upload.upload(on_upload, [upload, lang], kb_outputs + [upload], api_name=False)
        remove.click(on_remove, [pick, lang], kb_outputs, api_name=False, js=ui.confirm_remove_js())
        rebuild.click(on_reindex, lang, kb_outputs, api_name=False)
        # A reload shows the library as it is now, not as it was when the page was built.
        demo.load(lambda lg: kb_view("", lg), lang, kb_outputs, api_name=False, queue=False)
        hidden_q = gr.Textbox(visible=False)
        hidden_out = gr.JSON(visible=False)
        chat_inputs = [box, chat, turns, top_k, length, backend, mode, lang, earlier]
        # Up to ANSWERING questions are taken at once: each retrieves its passages and shows them at once,
        # then waits in the pipeline's line for the one model (one answer generated at a time, the place
        # in line shown in the answer bubble); beyond that Gradio's queue holds them, its position shown.
        chat_events = {"concurrency_id": "chat", "concurrency_limit": ANSWERING}
        chat_outputs = [chat, sources, box, turns, earlier]
        # Every press is taken ("multiple"), also while an answer streams: the session's questions share one
        # conversation and are answered in the order sent (the default, "once", dropped the second press).
        send.click(chat_turns.respond, chat_inputs, chat_outputs, api_name="chat", trigger_mode="multiple",
                   **chat_events)
        box.submit(chat_turns.respond, chat_inputs, chat_outputs, api_name=False, trigger_mode="multiple",
                   **chat_events)
        # Stop tells the model to stop this session's answer at its next token (or never to start it, if it
        # is still waiting, in the model's line or behind the session's previous question); the answer so far
        # is then checked and shown as usual. (Gradio's own event cancelling left the next question unanswered.)
        def on_stop(request: gr.Request) -> None:
            chat_turns.stop(_session(request) or "-")  # no session, nothing to stop

        stop.click(on_stop, None, None, api_name="stop", concurrency_limit=None)

        def on_new(lg: str, request: gr.Request) -> tuple:
            """A new conversation: what the session still has running stops, and stops updating the chat."""
            chat_turns.drop(_session(request) or "-")
            return [], ui.sources_html(None, lang=lg), "", [], []

        clear.click(on_new, lang, chat_outputs, api_name="new_conversation", concurrency_limit=None)

        def on_leave(request: gr.Request) -> None:  # the tab closed or reloaded: its questions are of no more use
            if session := _session(request):
                chat_turns.drop(session)

        demo.unload(on_leave)

        def on_typed(text: str, turns: list[Turn], top_k: int = 0, backend: str = "llm", mode: str = "hybrid",
                     request: gr.Request = None) -> None:
            try:
                prefiller.post(text, _session(request) or "-", int(top_k or 0) or None, mode or "hybrid",
                               list(turns or [])[-MAX_TURNS:], backend == "extractive")
            except Exception:  # a head start only: a failure here never reaches the page
                log.exception("prefill failed")

        box.change(on_typed, [box, turns, top_k, backend, mode], None, api_name=False, show_progress="hidden",
                  trigger_mode="multiple", concurrency_id="prefill", concurrency_limit=ANSWERING)
        hidden_q.submit(answer_api, hidden_q, hidden_out, api_name="ask", **chat_events)
    return demo


def setup_logging(data_dir: str) -> Path:
    """INFO and above to a rotating file under data_dir/logs (5 MB × 4), warnings also to the console."""
    logs = Path(data_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "rag.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, handlers=[handler, console], force=True)
    return path


def serve(pipe: Pipeline, port: int, host: str | None = None, users: dict[str, str] | None = None,
          block: bool = True, warmup: Warmup | None = None, on_ready=None) -> gr.Blocks:
    """Launch the page for `pipe`: one answer at a time, a bounded queue, login where needed, uploads
    capped at the library's size limit, no error details in responses."""
    s = pipe.settings
    host = host or s.host
    if users is None:
        users = auth.load_users(auth.users_file(s.data_dir, s.auth_file))
    check = auth.login_check(host, users)
    demo = build_app(pipe, warmup).queue(default_concurrency_limit=1, max_size=s.max_waiting)
    demo.launch(server_name=host, server_port=port, css=ui.CSS, theme=gr.themes.Soft(), show_error=False,
                auth=check, auth_message="请登录 / Please log in", max_file_size=MAX_FILE_BYTES,
                prevent_thread_lock=True, quiet=not block)
    if on_ready is not None:
        on_ready()
    if block:
        demo.block_thread()
    return demo


def close_page(demo: gr.Blocks, wait_s: float = 5.0) -> None:
    """Close a page that `serve` launched without blocking, from any thread. Gradio's close sets the app's stop
    event (an asyncio.Event its streams wait on) from the calling thread, which races the server's own loop
    ("deque mutated during iteration"); setting it on that loop first leaves the close nothing to wake."""
    event = getattr(getattr(demo, "app", None), "stop_event", None)
    loop = getattr(event, "_loop", None)  # bound on the first wait: with no waiter yet there is nothing to race
    if event is not None and loop is not None and loop.is_running():
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (event.set(), done.set()))
        done.wait(wait_s)
    demo.close()


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = load_settings()
    log_path = setup_logging(settings.data_dir)
    # Gradio keeps uploads in its scratch folder until they are copied into seeds/: keep that in ours.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(settings.data_dir).resolve() / "uploads"))
    from rag.cli import _Bar

    log.info("starting; log file %s", log_path)
    started = time.perf_counter()
    pipe = pipeline_for(settings, _Bar())  # models are opened lazily; the index is built here only if needed
    # The page opens now; the models load behind it with their progress on the page.
    warmup = Warmup(pipe).start()
    serve(pipe, int(os.environ.get("RAG_PORT") or settings.port), warmup=warmup,
          on_ready=lambda: log.info("page up %.1f s after start", time.perf_counter() - started))


if __name__ == "__main__":
    try:
        main()
    except RagError as exc:  # a setting, a model or the index that cannot be used: say so, no traceback
        raise SystemExit(f"error: {exc}") from None
