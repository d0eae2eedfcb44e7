"""Sphinx configuration for the kombu_lite documentation.

Build with warnings as errors, as CI does::

    python -m sphinx -W -q -b html docs /tmp/html
    python -m sphinx -W -q -b doctest docs /tmp/doctest

No intersphinx: CI has no network, and a failed inventory download is a
warning, which ``-W`` turns into an error.  Not nitpicky either: docstrings
mention py-amqp and private types that have no page here.
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Import the package from this checkout, not from whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sphinx.pycode import ModuleAnalyzer

from kombu_lite._version import __version__

if TYPE_CHECKING:
    from sphinx.application import Sphinx

project = "kombu_lite"
author = "kombu_lite developers"
copyright = "kombu_lite developers"  # noqa: A001  (Sphinx's setting name)
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    # Only for the include of bench/run.py's Markdown table in
    # guide/performance.rst (``:parser: myst_parser.sphinx_`` needs the
    # extension's settings); no page is written in Markdown.
    "myst_parser",
]

root_doc = "index"
# guide/bench: bench/run.py's output, included by guide/performance.rst,
# not pages of their own.
exclude_patterns = ["_build", "guide/bench"]
default_role = "py:obj"
pygments_style = "sphinx"

# -- autodoc / napoleon -------------------------------------------------------

# Types in the signature line and in the list of parameters.
autodoc_typehints = "both"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- doctest --------------------------------------------------------------------

# Each page resets the memory broker itself (``.. testsetup:: *``).  Unlike
# Sphinx's default, exception texts are compared too: they carry guarantees
# (a masked password, the entity named).  ELLIPSIS elides what varies.
doctest_default_flags = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
)

# -- HTML -------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"kombu_lite {release}"
html_theme_options = {
    "description": "kombu's producer API, typed, with an in-memory broker",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []


# -- the real home of re-exported classes ------------------------------------------


def _restore_defining_modules(app: Sphinx) -> None:
    """Point re-exported classes back at the module that defines them.

    ``kombu_lite/__init__.py`` sets ``__module__ = "kombu_lite"`` on its
    public classes so that reprs and pickles show the short path.  autodoc
    reads ``__module__`` to find the source, so it would lose the source
    order (``autodoc_member_order = "bysource"``), the ``#:`` attribute
    comments and the viewcode links.  With the defining module back,
    autodoc documents ``kombu_lite.Connection`` as written in the ``.rst``
    and records ``kombu_lite.connection.Connection`` as its canonical name,
    so references to either name resolve.

    Only for the HTML-like builders: the doctest builder runs the examples
    against the library exactly as users import it.
    """
    if app.builder.name == "doctest":
        return
    import kombu_lite

    submodules = [
        module
        for name, module in sorted(sys.modules.items())
        if name.startswith("kombu_lite.") and module is not None
    ]
    for name in kombu_lite.__all__:
        obj = getattr(kombu_lite, name)
        if not isinstance(obj, type) or obj.__module__ != "kombu_lite":
            continue
        for module in submodules:
            if getattr(module, name, None) is not obj:
                continue
            tags = ModuleAnalyzer.for_module(module.__name__).find_tags()
            if tags.get(name, ("",))[0] == "class":
                obj.__module__ = module.__name__
                break


# -- napoleon's inline attribute types ------------------------------------------

# napoleon reads the first line of an attribute, property or data docstring
# as "type: description".  Our docstrings never carry types (annotations
# do), so "What the cache remembers: every setting." would render with
# "What the cache remembers" as its type.  Undo that for anything that reads
# as words, not as a type expression.
_PROSE = re.compile(r"[A-Za-z(] [A-Za-z(]")


def _undo_inline_type(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    lines: list[str],
) -> None:
    if what not in {"attribute", "data", "property"} or not lines:
        return
    last = lines[-1]
    if not last.startswith(":type: ") or not _PROSE.search(last):
        return
    prefix = last.removeprefix(":type: ")
    del lines[-1]
    while lines and not lines[-1].strip():
        del lines[-1]
    if lines:
        lines[0] = f"{prefix}: {lines[0]}"
    else:
        lines.append(prefix)


def setup(app: Sphinx) -> dict[str, object]:
    """Register the hooks above."""
    app.connect("builder-inited", _restore_defining_modules)
    # After napoleon (priority 500), which produced the ":type:" line.
    app.connect("autodoc-process-docstring", _undo_inline_type, priority=600)
    return {"parallel_read_safe": True}
