"""Public screens: the hall screen, the window-top screen, the phone tracker, and voice-clip sequencing."""

from flask import Blueprint

bp = Blueprint("display", __name__, template_folder="templates", static_folder="static",
               static_url_path="/display/static")


from . import routes, routes_citizen  # noqa: E402,F401  (routes register on bp)
