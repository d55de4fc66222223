"""The landing page listing what runs in this hall (kiosk, screens and panels register their own blueprints)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template_string
from flask.typing import ResponseReturnValue

bp = Blueprint("pages", __name__)

_INDEX = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ name }} · OneWindow</title>
<style>body{font-family:sans-serif;margin:2rem;max-width:60rem}code{background:#eee;padding:0 .3em}</style></head>
<body><h1>{{ name }}</h1><p>OneWindow 排队叫号服务 / queue server, service day {{ day }}.</p>
{% if sample %}<p><strong>示例数据 / sample data:</strong> the service catalogue is a sample awaiting the hall's
official one.</p>{% endif %}
<ul>
<li><a href="/api/v1/snapshot">/api/v1/snapshot</a> — the hall now (JSON)</li>
<li><a href="/api/v1/openapi.json">/api/v1/openapi.json</a> — the REST API</li>
<li><a href="/api/v1/items">/api/v1/items</a> — service items</li>
</ul></body></html>"""


@bp.get("/")
def index() -> ResponseReturnValue:
    ctx = current_app.extensions["onewindow"]
    return render_template_string(_INDEX, name=ctx.config.hall.name.zh, day=ctx.today().isoformat(),
                                  sample=ctx.config.sample_data)
