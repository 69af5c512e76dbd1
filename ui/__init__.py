"""The PyQt6 desktop app (installed as ``live_explain.ui``).

It imports :mod:`live_explain`; the library never imports it. The window itself lands with
the desktop-app issue; ``live-explain watch`` says so until then.
"""
