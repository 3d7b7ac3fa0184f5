"""Live posts in the admin: write, preview, publish, update and withdraw through ``results.services``.

A draft is never public. Saving a published post publishes the update at
once. Every save carries the version the editor loaded: if someone else
saved the post since, the save is refused with who it was and what they
changed, and the editor's text stays on the screen.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from results import services
from results.models import Post

from . import history
from .missing import does_not_exist

# What editors type: the service's fields, less the publication time it sets.
EDITABLE = [name for name in services.POST_FIELDS if name != "published_at"]


class PostForm(forms.ModelForm):
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    image_url = forms.URLField(label="Image URL", required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Post
        fields = [*EDITABLE, "councils", "ballots"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conflict: history.Conflict | None = None
        if self.instance.pk and "loaded_version" in self.fields:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        data = super().clean()
        post = self.instance
        if post.pk and data.get("loaded_version") != post.version:
            rows = [
                (self.fields[name].label, getattr(post, name), data.get(name))
                for name in EDITABLE
                if name in self.fields
            ]
            self.conflict = history.conflict(post, f"“{post.headline}”", rows, noun="version")
            raise ValidationError(self.conflict.message, code="stale")
        return data


@admin.register(Post)
class PostAdmin(history.HistoryMixin, admin.ModelAdmin):
    form = PostForm
    list_display = [
        "headline",
        "status",
        "published_at",
        "breaking",
        "key_point",
        "author_name",
        "updated_at",
    ]
    list_filter = ["status", "breaking", "key_point"]
    search_fields = ["headline", "body"]
    autocomplete_fields = ["councils", "ballots"]
    readonly_fields = ["status", "published_at"]
    change_form_template = "admin/results/post/change_form.html"
    actions = None
    fieldsets = [
        (None, {"fields": ["loaded_version", "headline", "body"]}),
        ("Byline", {"fields": ["author_name", "author_role", "author_outlet"]}),
        ("Flags", {"fields": ["breaking", "key_point"]}),
        ("Image", {"fields": ["image_url", "image_caption", "image_credit"]}),
        ("Related councils and ballots", {"fields": ["councils", "ballots"]}),
        ("Publication", {"fields": ["status", "published_at"]}),
    ]

    def get_urls(self):
        return [
            path(
                "<path:object_id>/withdraw/",
                self.admin_site.admin_view(self.withdraw_view),
                name="results_post_withdraw",
            ),
            *super().get_urls(),
        ]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("author_name", request.user.get_full_name() or request.user.get_username())
        return initial

    def has_delete_permission(self, request, obj=None):
        # Only a draft never published may be deleted; a published post is withdrawn instead.
        if obj is not None and obj.status != Post.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        post = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if post is not None:
            extra["history"] = history.history(post)
            extra["withdraw_url"] = reverse("admin:results_post_withdraw", args=[post.pk])
        return super().change_view(request, object_id, form_url, extra)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # A service refused under its lock (e.g. a save that raced the form's version
            # check): the transaction rolled back, nothing was saved.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        post = services.save_post(
            obj,
            changes={name: data[name] for name in EDITABLE if name in data},
            councils=data.get("councils"),
            ballots=data.get("ballots"),
            user=request.user,
            expected_version=data.get("loaded_version") if change else None,
        )
        if "_publish" in request.POST:
            services.publish_post(post, user=request.user, expected_version=post.version)
            post.refresh_from_db()
        obj.pk, obj.version, obj.status, obj.published_at = (
            post.pk,
            post.version,
            post.status,
            post.published_at,
        )

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        if "_publish" not in request.POST:
            return message
        changed = LogEntry(change_message=json.dumps(message)).get_change_message() if message else ""
        return f"{changed} Published.".strip() if changed != "No fields changed." else "Published."

    def save_related(self, request, form, formsets, change):
        pass  # save_post set the related councils and ballots

    def _saved(self, request, obj):
        if obj.status == Post.Status.PUBLISHED and "_publish" in request.POST:
            text = f"Published “{obj.headline}”: it is public now."
        elif obj.status == Post.Status.PUBLISHED:
            text = f"Update to “{obj.headline}” published."
        elif obj.status == Post.Status.WITHDRAWN:
            text = f"Saved “{obj.headline}”. It stays withdrawn: not public."
        else:
            text = f"Draft “{obj.headline}” saved. It is not public."
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:results_post_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._saved(request, obj)

    def response_change(self, request, obj):
        return self._saved(request, obj)

    def history_title(self, post: Post) -> str:
        return post.headline

    def withdraw_view(self, request, object_id):
        post = self.get_object(request, unquote(object_id))
        if post is None:
            return does_not_exist(self, request, object_id)
        if not self.has_change_permission(request, post):
            raise PermissionDenied
        change_url = reverse("admin:results_post_change", args=[post.pk])
        if request.method == "POST":
            try:
                version = int(request.POST.get("loaded_version", ""))
            except ValueError:
                version = -1
            try:
                services.withdraw_post(
                    post,
                    reason=request.POST.get("reason", "").strip(),
                    user=request.user,
                    expected_version=version,
                )
            except services.StaleEdit:
                conflict = history.conflict(Post.objects.get(pk=post.pk), f"“{post.headline}”", None)
                self.message_user(request, conflict.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return HttpResponseRedirect(change_url)
            self.message_user(
                request, f"Withdrew “{post.headline}”: it is no longer public.", messages.SUCCESS
            )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Withdraw this post?",
            "opts": self.opts,
            "original": post,
            "post": post,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/results/post/withdraw.html", context)
