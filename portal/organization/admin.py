"""Clinic IT maintains the organisation (campuses, departments, staff, teams) in the admin.

Patient data is deliberately not in the admin: it is reached only through the access
policy, in the staff workspace.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from portal.organization.models import Campus, CareTeam, Department, OpeningHours, Practitioner


class LabelledTabularFormSet(BaseInlineFormSet[Any, Any, Any]):
    """A tabular inline's cells named after their column.

    The table shows each field's label once, in its header, and leaves the inputs in the rows
    without a name of their own: an aria-label gives each input (the delete box too) one.
    """

    def add_fields(self, form: forms.ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        for field in form.fields.values():
            if field.label and not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-label", str(field.label))


class OpeningHoursInline(admin.TabularInline[OpeningHours, Campus]):
    model = OpeningHours
    formset = LabelledTabularFormSet
    extra = 0


@admin.register(Campus)
class CampusAdmin(admin.ModelAdmin[Campus]):
    list_display = ["name", "time_zone", "main_phone", "appointments_phone", "is_active"]
    prepopulated_fields = {"slug": ["short_name"]}
    inlines = [OpeningHoursInline]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin[Department]):
    list_display = ["name"]
    filter_horizontal = ["campuses"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin[Practitioner]):
    list_display = ["family_name", "given_name", "role", "active"]
    list_filter = ["role", "active", "campuses"]
    search_fields = ["family_name", "given_name", "npi"]
    filter_horizontal = ["departments", "campuses"]
    raw_id_fields = ["user"]


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin[CareTeam]):
    list_display = ["name", "kind", "campus", "department"]
    list_filter = ["kind", "campus"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}
