"""Public screens: the hall screen, the window-top screen, the phone tracker, and voice-clip sequencing."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

bp = Blueprint("display", __name__, template_folder="templates", static_folder="static",
               static_url_path="/display/static")


@bp.record_once
def _load_texts(state: BlueprintSetupState) -> None:
    """The citizen pages' translations, read once when the app is made (config/i18n)."""
    from queue_server import i18n

    state.app.extensions.setdefault("onewindow.i18n", i18n.load())


from . import routes, routes_citizen  # noqa: E402,F401  (routes register on bp)
