"""Template context for the console: whether the deployment is rehearsing (a banner on every page)."""

from results import rehearsal


def rehearsal_state(request) -> dict:
    """``rehearsal``: the state read from the cache (no query while it is cached)."""
    if not request.path.startswith("/admin/"):
        return {}
    return {"rehearsal": rehearsal.current()}
