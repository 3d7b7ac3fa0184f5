"""The data desk's console: election night in the Django admin.

- ``overview``: every election's progress and control call on one page.
- ``ballots`` and ``ballot_entry``: the work list, and the page where votes
  are typed, previewed and declared.
- ``posts``: live posts, drafted, published, updated and withdrawn.
- ``imports``: the three CSV formats, uploaded.
- ``history``: who changed what, from the event log and the admin's log.
- ``reference``: parties, councils and wards, edited directly.
- ``logins``: login lockouts, seen and unlocked by staff.

The site itself (login throttling, the overview and import pages) is
``console.site``, outside this package.

Results, control calls and posts change only through ``results.services``
(and ``results.drafts`` for figures not yet public); nothing here writes them
directly.
"""

from . import ballots, logins, posts, reference  # noqa: F401  (register the model admins)
