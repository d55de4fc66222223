"""Staff pages: the window panel, case intake, the back office, supervision."""

from flask import Blueprint

bp = Blueprint("backoffice", __name__, template_folder="templates", static_folder="static",
               static_url_path="/staff/static", url_prefix="/staff")

from . import routes  # noqa: E402,F401  (routes register on bp)
