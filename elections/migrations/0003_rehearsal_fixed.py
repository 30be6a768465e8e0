"""An election's rehearsal flag cannot change after creation: enforced in the database
(see ``elections.rehearsal_guard``)."""

from django.db import migrations


def install(apps, schema_editor):
    from elections import rehearsal_guard

    rehearsal_guard.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from elections import rehearsal_guard

    rehearsal_guard.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("elections", "0002_election_rehearsal")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
