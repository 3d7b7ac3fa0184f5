"""The demo: the East Midlands local elections of 4 May 2023, as on the seed page.

``seed`` (what the seed page says) -> ``generator`` (the whole night, generated where the seed is
silent) -> ``files`` (the committed files under ``data/``, in the importers' own formats) ->
``loader`` (those files through the importers and the services). ``results`` never imports this app.
"""
