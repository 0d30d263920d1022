from django.apps import AppConfig


class BulkConfig(AppConfig):
    name = "portal.bulk"
    label = "bulk"
    verbose_name = "Bulk data export"

    def ready(self) -> None:
        from portal.bulk import phrases  # noqa: F401  (registers the access-log wording)
