import os

from piccolo.conf.apps import AppConfig

from wallet.promotions.tables import (
    Coupon,
    CouponBatch,
    CouponUse,
    ManualDiscountPolicy,
    Promotion,
    PromotionShopperUse,
    PromotionVersion,
)

APP_CONFIG = AppConfig(
    app_name="promotions",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[
        Promotion,
        PromotionVersion,
        PromotionShopperUse,
        ManualDiscountPolicy,
        CouponBatch,
        Coupon,
        CouponUse,
    ],
    migration_dependencies=["wallet.stores.piccolo_app"],
)
