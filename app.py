"""The chat page: a thin Gradio layer over rag.pipeline. Run `python app.py` or `rag serve`."""
from __future__ import annotations

import html
import logging
import logging.handlers
import os
import threading
import time
from pathlib import Path

import gradio as gr

from rag import auth, library, stall, ui
from rag.errors import InputError, ModelBusyError, RagError
from rag.evaluate import answer_to_json
from rag.ingest.readers import MAX_FILE_BYTES, SUPPORTED
from rag.pipeline import RETRIEVAL_MODES, Pipeline, pipeline_for, validate_question
from rag.prefill import Prefiller
from rag.rewrite import Turn
from rag.sessions import Conversation, Conversations
from rag.settings import load_settings
from rag.warm import warm_up

log = logging.getLogger("rag.app")
MAX_TURNS = 3  # earlier turns a follow-up question may lean on
ANSWERING = 8  # questions retrieving or waiting for the model at once; more wait in Gradio's queue
# New prompt tokens a question brings beyond the cached system prefix besides its passages (the question, the
# template). The last answer's own count is no guide: after a part asked again it is that short turn's.
QUESTION_TOKENS = 40


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or ""


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
    # For the "reading, about N s" line: the prompt fill rate the last answer measured (~60 tokens/s on two cores).
    prefill = {"per_second": 60.0}
    # While the question is typed, the model's cache is filled with the prompt it would have (rag/prefill.py):
    # on Enter only what differs is prefilled. It listens to the box's change events (its input events do not
    # fire for keystrokes in this Gradio), every one sent ("multiple"), and posts the text to the prefiller's
    # worker, which fills the newest text without waiting for a pause in the typing.
    prefiller = Prefiller(pipe)
    # the passages' tokens in a typical prompt: the budget, or four passages cut to passage_chars (≈ 330)
    passage_tokens = pipe.settings.prompt_tokens or 330

    def backend_choices(lang: str) -> list[tuple[str, str]]:
        return ([(ui.model_label(llm_name, lang), "llm")] if llm_name else []) + [(ui.t(lang, "extractive"), "extractive")]

    def reading_seconds(backend: str, question: str, key: str) -> float | None:
        if backend == "extractive" or pipe.generator is None or prefiller.filled(key, question):
            return None  # no model, or its prompt was filled while it was typed: no reading to wait for
        return (passage_tokens + QUESTION_TOKENS) / max(prefill["per_second"], 1.0)

    def measure_prefill() -> None:
        timings = getattr(pipe.generator, "last_timings", None) or {}
        if timings.get("prompt_per_second"):
            prefill["per_second"] = float(timings["prompt_per_second"])

    # The conversations of sessions with a question being handled: two questions of one page that overlap
    # share one, so neither overwrites the other's bubble (rag/sessions.py).
    conversations = Conversations()

    def respond(question: str, history: list[dict], turns: list[Turn], top_k: int = 0, length: str = "normal",
                backend: str = "llm", mode: str = "hybrid", lang: str = "zh", earlier: list | None = None,
                request: gr.Request = None):
        session = _session(request)
        ask = {"top_k": int(top_k or 0) or None, "max_tokens": ui.LENGTHS.get(length), "mode": mode or "hybrid",
               "extractive": backend == "extractive"}
        # A question still going after minutes is a hang somewhere: the log then says where every thread is.
        watch = stall.Watch(f"question {session[:6]}",
                            state=lambda: f"{pipe.line.describe()}; {prefiller.describe()}").start()
        try:
            yield from take(question, list(history or []), list(turns or []), list(earlier or []), ask, lang,
                            session)
        finally:
            watch.stop()

    def shown(conv: Conversation, panel=None, box=None) -> tuple:
        """The page's chat outputs from the conversation; nothing once the user has left it."""
        if conv.dropped:
            return (gr.skip(),) * 5
        history, turns, earlier = conv.snapshot()
        return history, gr.skip() if panel is None else panel, gr.skip() if box is None else box, turns, earlier

    def take(question: str, history: list[dict], turns: list, earlier: list, ask: dict, lang: str, session: str):
        """One question sent: refused with a message, or put in the conversation and answered in its turn."""
        try:
            question = validate_question(question)
        except InputError as exc:
            if not (question or "").strip():  # an empty send changes nothing on the page
                log.info("question %s: empty box sent, nothing to answer", session[:6])
                yield (gr.skip(),) * 5
                return
            conv = conversations.enter(session, history, turns, earlier)
            try:  # the question stays in the box to be shortened; no bubble holds a page of pasted text
                conv.history.append({"role": "assistant",
                                     "content": ui.t(lang, "too_long", message=html.escape(str(exc)))})
                yield shown(conv, box=question)
            finally:
                conversations.leave(session, conv)
            return
        conv = conversations.enter(session, history, turns, earlier)
        number, stops = conv.ticket(), conv.stops
        try:
            log.info("question %s: %d characters, %d before it in the session", session[:6], len(question),
                     conv.ahead(number))
            place = conv.add({"role": "user", "content": ui.as_text(question)}, {"role": "assistant", "content": "…"})
            yield shown(conv, box="")  # the box is emptied once, as it is sent: what is typed next stays
            if conv.ahead(number):
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "after_previous")}
                yield shown(conv)
            if not conv.wait_turn(number, pipe.line.wait_s):
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "busy")}
                yield shown(conv)
            elif conv.stops != stops:  # stopped while the session's previous question was answered
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "stopped_waiting")}
                yield shown(conv)
            else:
                yield from answer(conv, place, question, ask, lang, session)
        finally:
            conv.done(number)
            conversations.leave(session, conv)

    def answer(conv: Conversation, place: int, question: str, ask: dict, lang: str, session: str):
        """The question's turn: its passages, its place in the model's line, the draft, the checked answer."""
        turn = len(conv.earlier) + 1
        articles = pipe.index.articles if pipe.index is not None else {}
        events = pipe.stream(question, history=conv.turns[-MAX_TURNS:], key=session, **ask)
        try:
            streamed = ""
            for event in events:
                if conv.dropped:  # a new conversation: this one's answer is of no more use
                    return
                if event.kind == "passages":
                    found = ui.sources_html(None, list(event.passages), event.text, articles, lang, turn)
                    seconds = reading_seconds("extractive" if ask["extractive"] else "llm", question, session)
                    conv.history[place] = {"role": "assistant",
                                           "content": ui.stage_message(list(event.passages), lang, seconds)}
                    yield shown(conv, ui.panel(found, conv.earlier, lang))
                    continue
                if event.kind == "retry":
                    streamed, text = "", ui.t(lang, "retry")
                elif event.kind == "waiting":
                    text = ui.t(lang, "waiting", ahead=event.text)
                elif event.kind == "token":
                    streamed += event.text
                    text = ui.provisional(streamed, lang)
                else:
                    yield finished(conv, place, question, event.answer, lang, session, turn)
                    return
                conv.history[place] = {"role": "assistant", "content": text}
                yield shown(conv)
        except ModelBusyError:
            conv.history[place] = {"role": "assistant", "content": ui.t(lang, "busy")}
            yield shown(conv, ui.panel("", conv.earlier, lang))
        except RagError as exc:
            conv.history[place] = {"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"}
            yield shown(conv, ui.panel("", conv.earlier, lang))
        except Exception:  # never a traceback on the page: the details go to the log file
            log.exception("answering %r failed", question[:200])
            conv.history[place] = {"role": "assistant", "content": "⚠️ " + INTERNAL_ERROR}
            yield shown(conv, ui.panel("", conv.earlier, lang))
        finally:
            events.close()  # out of the model's line at once, whichever way this ended

    def finished(conv: Conversation, place: int, question: str, answer, lang: str, session: str, turn: int) -> tuple:
        t = answer.timings
        log.info("answer %s-%d: %s, first word %.1f s, whole %.1f s", session[:6], turn,
                 "refused" if answer.refused else f"{len(answer.citations)} citations",
                 t.get("first_token_ms", 0) / 1000, t.get("total_ms", 0) / 1000)
        measure_prefill()
        prefiller.forget(session or "-")
        articles = pipe.index.articles if pipe.index is not None else {}
        conv.history[place] = {"role": "assistant", "content": ui.answer_markdown(answer, lang, turn)}
        conv.turns.append(Turn(answer.query or answer.question, "" if answer.refused else answer.text))
        mine = ui.sources_html(answer, articles=articles, lang=lang, turn=turn)
        panel = ui.panel(mine, conv.earlier, lang)
        conv.earlier.append((turn, question, mine))
        return shown(conv, panel)

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
            status = head + ui.t(lang, "index_failed") + INTERNAL_ERROR
        return kb_view(status, lang)

    cleared = gr.update(value=None)  # the upload box, emptied after each upload so no file is sent twice

    def on_upload(files, lang: str = "zh", progress=gr.Progress()):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        added, refused = library.add_files(paths, pipe.settings.seeds_dir)
        lines = [ui.t(lang, "added", names="、".join(added))] if added else []
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
    upload_label = {"types": ui.file_types(SUPPORTED), "mb": MAX_FILE_BYTES // 1_000_000}
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
            examples = ui.example_questions(index)
            if examples:
                gr.Examples(examples=[[q] for q in examples], inputs=box, label="示例问题 / Examples")
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
            upload = gr.File(label=ui.t("zh", "upload", **upload_label), file_count="multiple", elem_id="kb-upload")
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
                    ui.t(lg, "library_note"), gr.update(label=ui.t(lg, "upload", **upload_label)),
                    kb_table(library.documents(pipe.index), lg), gr.update(label=ui.t(lg, "pick")),
                    gr.update(value=ui.t(lg, "remove")), gr.update(value=ui.t(lg, "reindex")), index_info(lg))

        turns = gr.State([])  # standalone questions and answers of this conversation, for follow-ups
        earlier = gr.State([])  # (number, question, sources HTML) of each answer so far, for the panel
        lang.change(relabel, [lang, backend, earlier],
                    ([status] if warmup is not None else []) +
                    [title, tab_chat, chat, box, send, stop, clear, settings_box, top_k, length, backend,
                     mode, sources, tab_library, library_note, upload, table, pick, remove, rebuild, info],
                    api_name=False, queue=False)
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
        send.click(respond, chat_inputs, chat_outputs, api_name="chat", trigger_mode="multiple", **chat_events)
        box.submit(respond, chat_inputs, chat_outputs, api_name=False, trigger_mode="multiple", **chat_events)
        # Stop tells the model to stop this session's answer at its next token (or never to start it, if it
        # is still waiting, in the model's line or behind the session's previous question); the answer so far
        # is then checked and shown as usual. (Gradio's own event cancelling left the next question unanswered.)
        def on_stop(request: gr.Request) -> None:
            session = _session(request) or "-"  # no session, nothing to stop
            conversations.stop(session)
            pipe.cancel(session)

        stop.click(on_stop, None, None, api_name="stop", concurrency_limit=None)

        def on_new(lg: str, request: gr.Request) -> tuple:
            """A new conversation: what the session still has running stops, and stops updating the chat."""
            session = _session(request) or "-"
            conversations.drop(session)
            pipe.cancel(session)
            return [], ui.sources_html(None, lang=lg), "", [], []

        clear.click(on_new, lang, chat_outputs, api_name="new_conversation", concurrency_limit=None)

        def on_leave(request: gr.Request) -> None:  # the tab closed or reloaded: its questions are of no more use
            session = _session(request)
            if session:
                conversations.drop(session)
                pipe.cancel(session)

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
