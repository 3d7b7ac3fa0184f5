"""The answer to a console URL naming an object that does not exist: Django's own, in public APIs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _


def does_not_exist(model_admin, request, object_id) -> HttpResponseRedirect:
    """A warning that the object is gone, and a redirect to the admin's index: what Django's change
    page answers for an unknown id (the same words, so the same translation)."""
    message = _("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?") % {
        "name": model_admin.opts.verbose_name,
        "key": unquote(object_id),
    }
    model_admin.message_user(request, message, messages.WARNING)
    return HttpResponseRedirect(reverse("admin:index", current_app=model_admin.admin_site.name))
