"""The data desk's console: election night in the Django admin.

- ``overview``: every election's progress and control call on one page.
- ``exports``: each poll date's open exports, to download.
- ``ballots`` and ``ballot_entry``: the work list, and the page where votes
  are typed, previewed and declared.
- ``posts``: live posts, drafted, published, updated and withdrawn.
- ``imports``: the three CSV formats, uploaded.
- ``history``: who changed what, from the event log and the admin's log, and
  the History pages' mixin (a page at a time).
- ``missing``: the answer to an id that does not exist (Django's, in public APIs).
- ``reference``: parties, councils and wards, edited directly.
- ``logins``: login lockouts, seen and unlocked by staff.

The site itself (login throttling; the overview, import and exports pages,
as its own views) is ``console.site``, outside this package. Everything is
added through the admin's hooks (``get_urls``, ``each_context``, ``history_view``),
never by replacing its change page or calling its private methods.

Results, control calls and posts change only through ``results.services``
(and ``results.drafts`` for figures not yet public); nothing here writes them
directly.
"""

from . import ballots, logins, posts, reference  # noqa: F401  (register the model admins)
