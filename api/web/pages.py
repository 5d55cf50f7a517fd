"""The Jinja2 templates every HTML page renders with (the web app's, and local mode's mail
catcher)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
