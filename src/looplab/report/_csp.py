"""The Content-Security-Policy of every page looplab writes: only looplab's own scripts run."""
from __future__ import annotations

import base64
import hashlib
import html


def csp_meta(*scripts: str, loads_scripts: bool = False) -> str:
    """A <meta> Content-Security-Policy allowing exactly the inline `scripts` given (by their SHA-256), and no
    other script, inline or from a file. `loads_scripts`: those scripts may add <script> elements of their own
    ('strict-dynamic'), as the viewer does for its data files; a script in the page's markup that is not one of
    `scripts` still does not run.

    >>> "'unsafe-inline'" in csp_meta("run()").split("style-src")[0]
    False
    """
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = f"default-src 'none'; script-src {hashes or repr('none')}"
    if loads_scripts:
        policy += " 'strict-dynamic'"
    policy += "; style-src 'unsafe-inline'; img-src data:"
    return f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
