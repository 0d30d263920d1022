"""Patient-side e-visit forms. The questionnaire itself is `scheduling.questionnaires.QuestionnaireForm`.

A photo is checked by what it contains (`lib/uploads.check_image`): only a JPEG or PNG
that Pillow reads is accepted, and it is stored re-encoded, without its metadata.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.lib.uploads import CheckedFile, check_image
from portal.telehealth.evisits import MAX_PHOTOS, PHOTO_MAX_BYTES

ACCEPT = "image/jpeg,image/png,.jpg,.jpeg,.png"


def photo_help() -> str:
    return _("A JPEG or PNG photo of up to %(size)s. You can add up to %(count)d photos.") % {
        "size": filesizeformat(PHOTO_MAX_BYTES),
        "count": MAX_PHOTOS,
    }


class PhotoForm(forms.Form):
    """One photo for a draft e-visit."""

    photo = forms.FileField(
        label=gettext_lazy("Photo"),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        error_messages={"required": gettext_lazy("Choose a photo to add.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["photo"].help_text = photo_help()

    def clean_photo(self) -> CheckedFile:
        upload = self.cleaned_data["photo"]
        wrong_type = _("Upload a JPEG or PNG photo.")
        try:
            return check_image(upload, PHOTO_MAX_BYTES, wrong_type)
        except ValidationError as error:
            raise ValidationError(error.messages, code="invalid") from error
