"""The kiosk's touchscreen pages: home tiles, item search, guided flows, ticket and appointment screens.

Served by the queue server as a blueprint; the page talks to the server over HTTP (/api/v1/kiosk/...) and
Socket.IO (card reads, code scans and print results of its station) only.
"""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates", static_folder="static")

from . import routes  # noqa: E402,F401  (routes register on bp)
