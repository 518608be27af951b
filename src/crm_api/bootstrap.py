"""Reference data every installation needs: built-in roles and the seeded dictionary. Idempotent."""

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principals_changed
from crm_api.core.permissions import BUILTIN_ROLES
from crm_api.models.identity import Role, RolePermission
from crm_api.models.platform import DictionaryItem

# category -> [(value, label, editable)]; values are stable codes, labels are what people read.
DICTIONARY_SEED: dict[str, list[tuple[str, str, bool]]] = {
    "service_type": [("consultation", "咨询", False), ("suggestion", "建议", False), ("complaint", "投诉", False)],
    "customer_level": [
        ("regular", "普通客户", False),
        ("key_prospect", "重点开发客户", False),
        ("major", "大客户", False),
        ("partner", "合作伙伴", False),
        ("strategic_partner", "战略合作伙伴", False),
    ],
    "region": [
        (value, label, True)
        for value, label in [
            ("beijing", "北京"),
            ("shanghai", "上海"),
            ("tianjin", "天津"),
            ("chongqing", "重庆"),
            ("guangdong", "广东"),
            ("jiangsu", "江苏"),
            ("zhejiang", "浙江"),
            ("shandong", "山东"),
            ("fujian", "福建"),
            ("sichuan", "四川"),
            ("hubei", "湖北"),
            ("hunan", "湖南"),
            ("henan", "河南"),
            ("hebei", "河北"),
            ("anhui", "安徽"),
            ("liaoning", "辽宁"),
            ("shaanxi", "陕西"),
            ("yunnan", "云南"),
            ("guangxi", "广西"),
            ("heilongjiang", "黑龙江"),
        ]
    ],
    "lead_source": [
        (value, label, True)
        for value, label in [
            ("website", "官网"),
            ("trade_show", "展会"),
            ("referral", "客户推荐"),
            ("cold_call", "电话陌拜"),
            ("advertisement", "广告"),
            ("social_media", "社交媒体"),
            ("partner", "合作伙伴"),
        ]
    ],
    "industry": [
        (value, label, True)
        for value, label in [
            ("manufacturing", "制造业"),
            ("retail", "零售"),
            ("it", "信息技术"),
            ("finance", "金融"),
            ("healthcare", "医疗"),
            ("education", "教育"),
            ("logistics", "物流"),
            ("energy", "能源"),
            ("construction", "建筑"),
            ("agriculture", "农业"),
        ]
    ],
    "opportunity_stage": [
        ("initial_contact", "初步接触", True),
        ("needs_confirmed", "需求确认", True),
        ("proposal", "方案报价", True),
        ("negotiation", "谈判签约", True),
    ],
}


async def sync_builtin_roles(session: AsyncSession) -> None:
    existing = {role.code: role for role in (await session.scalars(select(Role))).all()}
    for code, (name, grants) in BUILTIN_ROLES.items():
        role = existing.get(code)
        if role is None:
            role = Role(code=code, name=name, builtin=True)
            session.add(role)
            await session.flush()
        role.name, role.builtin = name, True
        await session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
        session.add_all(RolePermission(role_id=role.id, permission=p, scope=s.value) for p, s in grants.items())
    await session.flush()
    for role in existing.values():
        session.expire(role, ["permissions"])
    await principals_changed(session)  # running workers drop what they resolved with the grants as they were


async def seed_dictionary(session: AsyncSession) -> None:
    present = {tuple(row) for row in await session.execute(select(DictionaryItem.category, DictionaryItem.value))}
    for category, items in DICTIONARY_SEED.items():
        for order, (value, label, editable) in enumerate(items, start=1):
            if (category, value) not in present:
                session.add(DictionaryItem(category=category, value=value, label=label, sort_order=order * 10, editable=editable))
    await session.flush()


async def seed_reference_data(session: AsyncSession) -> None:
    await sync_builtin_roles(session)
    await seed_dictionary(session)
