"""The web app: a Gradio chat over the indexed articles, with sources you can check.

One module per job:

- ``render``: answers, sources, status and upload reports as HTML (pure functions,
  everything from an article or a user escaped);
- ``backend``: ``Backend`` (the pipeline, built in the background on first start; asks,
  ``/ask``'s JSON, uploads and the index swap after them) and ``ChatHistory`` (the chat
  so far, parsed once);
- ``uploads``: the names, places and copies of uploaded files;
- ``layout``: the Gradio page and its events (``build_app``), ``launch`` and ``main``
  (``python app.py``); ``style``: its CSS and scripts.

Does not: answer questions or parse files itself (``rag.pipeline``, ``rag.ingest``), or
fetch anything at run time (the encoder is the index's own, or ``RAG_ENCODER``).
"""

from ..config import MODES
from ..errors import InputError, RagError
from .backend import MAX_TURNS, AddResult, Backend, ChatHistory, read_k
from .layout import EXAMPLES, QUEUE_SIZE, TITLE, build_app, launch, main, one_line
from .render import (
    EMPTY_SOURCES,
    answer_html,
    cite_html,
    error_html,
    esc,
    esc_lines,
    link_markers,
    mark_passage,
    merge_spans,
    question_terms,
    source_anchor,
    source_card_html,
    sources_panel_html,
    status_html,
    term_spans,
    turn_sources_html,
    upload_report_html,
    user_html,
)
from .style import CSS
from .uploads import (
    MAX_UPLOAD_FILES,
    NAME_BYTES,
    UPLOAD_SUFFIXES,
    default_upload_dir,
    kept_uploads,
    max_upload_files,
    safe_filename,
    shown_name,
)

__all__ = [
    "CSS",
    "EMPTY_SOURCES",
    "EXAMPLES",
    "MAX_TURNS",
    "MAX_UPLOAD_FILES",
    "MODES",
    "NAME_BYTES",
    "QUEUE_SIZE",
    "TITLE",
    "UPLOAD_SUFFIXES",
    "AddResult",
    "Backend",
    "ChatHistory",
    "InputError",
    "RagError",
    "answer_html",
    "build_app",
    "cite_html",
    "default_upload_dir",
    "error_html",
    "esc",
    "esc_lines",
    "kept_uploads",
    "launch",
    "link_markers",
    "main",
    "mark_passage",
    "max_upload_files",
    "merge_spans",
    "one_line",
    "question_terms",
    "read_k",
    "safe_filename",
    "shown_name",
    "source_anchor",
    "source_card_html",
    "sources_panel_html",
    "status_html",
    "term_spans",
    "turn_sources_html",
    "upload_report_html",
    "user_html",
]
