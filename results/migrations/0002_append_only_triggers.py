"""Submissions and result events can be neither updated nor deleted: enforced in the database
(see ``results.append_only``)."""

from django.db import migrations


def install(apps, schema_editor):
    from results import append_only

    append_only.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from results import append_only

    append_only.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("results", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
