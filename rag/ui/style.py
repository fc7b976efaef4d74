"""The page's look and behaviour in the browser: its CSS, and the scripts that make a
``[n]`` marker open and outline its source card and the upload picker offer only the
accepted file types. Classes are those ``render`` writes."""

from .uploads import UPLOAD_SUFFIXES

CSS = """
.rag-header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
.rag-logo { display: inline-block; background: #b3261e; color: #fff; border-radius: 6px;
  padding: 0 .25em; font-size: .9em; }
.rag-header p { margin: 0; color: var(--body-text-color-subdued); }
.rag-status { font-size: .9em; padding: .35em .7em; border-radius: 6px; }
.rag-status progress { vertical-align: middle; width: 12em; }
.rag-ok { background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.rag-busy { background: #fff7e0; color: #7a5200; }
.rag-bad { background: #fdecea; color: #8a1c12; }
.rag-answer .rag-short { font-size: 1.35em; font-weight: 700; margin-bottom: .35em; }
.rag-answer .rag-support { line-height: 1.7; }
.rag-answer .rag-meta { margin-top: .4em; font-size: .8em; color: var(--body-text-color-subdued); }
.rag-refused .rag-refusal { color: #7a5200; background: #fff7e0; border-left: 4px solid #e0a100;
  padding: .4em .7em; border-radius: 4px; font-weight: 600; }
.rag-refused .rag-closest { margin-top: .5em; font-size: .92em; color: var(--body-text-color-subdued); }
.rag-error { color: #8a1c12; }
a.rag-cite { text-decoration: none; font-weight: 600; color: #b3261e; padding: 0 .1em;
  border-radius: 3px; cursor: pointer; }
a.rag-cite:hover { background: #fde3df; }
#rag-sources { max-height: 680px; overflow-y: auto; padding-right: .3em; }
.rag-empty { color: var(--body-text-color-subdued); padding: 1em; line-height: 1.7; }
.rag-turn details { margin-bottom: .6em; }
.rag-turn summary { cursor: pointer; font-weight: 600; padding: .3em 0; }
.rag-turn-n { display: inline-block; background: #b3261e; color: #fff; border-radius: 4px;
  padding: 0 .45em; margin-right: .3em; font-size: .85em; }
.rag-turn-query { color: var(--body-text-color-subdued); font-size: .88em; margin: 0 0 .3em 0; }
.rag-turn-note { color: #7a5200; font-size: .9em; margin: .2em 0 .4em 0; }
.rag-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em;
  margin: .5em 0; background: var(--background-fill-primary); transition: box-shadow .3s, border-color .3s; }
.rag-src.rag-cited { border-left: 4px solid #b3261e; }
.rag-src.rag-focus { border-color: #b3261e; box-shadow: 0 0 0 3px #f6c9c3; }
.rag-src-head { font-weight: 700; }
.rag-n { color: #b3261e; }
.rag-src-meta { font-size: .85em; color: var(--body-text-color-subdued); margin: .15em 0 .4em 0; }
.rag-passage { line-height: 1.75; font-size: .95em; }
mark.rag-quote { background: #fff1a8; color: inherit; padding: 0 .05em; }
strong.rag-short-span { background: #ffd86b; }
b.rag-term { font-weight: 700; color: inherit; border-bottom: 2px solid #8ab4f8; }
.rag-related { font-size: .85em; color: var(--body-text-color-subdued); margin-top: .35em; }
.rag-up-ok { color: #1e6b2f; }
.rag-up-bad { color: #8a1c12; }
.rag-up-bad ul { margin: .2em 0 0 1.2em; }
"""

# Clicking a [n] marker opens that answer's sources, scrolls to card n and outlines it.
CLICK_JS = """
if (!window.__ragCiteHandler) {
  window.__ragCiteHandler = function (ev) {
    const a = ev.target && ev.target.closest ? ev.target.closest('a.rag-cite') : null;
    if (!a) return;
    const id = (a.getAttribute('href') || '').replace(/^#/, '');
    const card = id ? document.getElementById(id) : null;
    if (!card) return;
    ev.preventDefault();
    ev.stopPropagation();
    const d = card.closest('details');
    if (d) d.open = true;
    document.querySelectorAll('.rag-src.rag-focus').forEach(e => e.classList.remove('rag-focus'));
    card.classList.add('rag-focus');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  };
  document.addEventListener('click', window.__ragCiteHandler, true);
}
"""


# The upload picker offers only the accepted types (the file_types Gradio would check).
ACCEPT_JS = """
if (!window.__ragAccept) {
  const accept = () => document.querySelectorAll('#rag-upload input[type=file]').forEach(
    i => { if (i.getAttribute('accept') !== '%s') i.setAttribute('accept', '%s'); });
  window.__ragAccept = new MutationObserver(accept);
  window.__ragAccept.observe(document.body, {childList: true, subtree: true});
  accept();
}
""" % ((",".join(UPLOAD_SUFFIXES),) * 2)
