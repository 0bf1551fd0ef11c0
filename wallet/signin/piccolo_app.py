import os

from piccolo.conf.apps import AppConfig

from wallet.signin.tables import PageSession, SendEvent, SignInCode

# The sign-in tables were first made by the shopper pages, and databases in use record
# their migrations under the app name "pages": the name stays so nothing is migrated twice.
APP_CONFIG = AppConfig(
    app_name="pages",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[SignInCode, SendEvent, PageSession],
    migration_dependencies=["wallet.members.piccolo_app"],
)
