"""Demo customers of the demo account managers, with contacts and interaction records. Idempotent."""

from datetime import timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principal_for_user
from crm_api.core.clock import clock
from crm_api.customers.schemas import ContactCreate, CustomerCreate, InteractionCreate
from crm_api.customers.service import add_contact, add_interaction, create_customer
from crm_api.models.customer import Customer
from crm_api.models.identity import User

# Every customer the demo makes carries an external id with this prefix: the demo adds orders, consents and tasks
# to these only, never to a customer someone created.
DEMO_EXTERNAL_ID = "demo-"


def is_demo_customer() -> ColumnElement[bool]:
    return Customer.external_id.startswith(DEMO_EXTERNAL_ID, autoescape=True)


DemoContact = tuple[str, str, str, str | None, str | None]
# owner, name, region, level, industry, phone, address, tags, [(contact name, gender, title, office phone, mobile)]
DEMO_CUSTOMERS: list[tuple[str, str, str, str, str, str, str, list[str], list[DemoContact]]] = [
    (
        "li.na",
        "上海华信科技有限公司",
        "shanghai",
        "major",
        "it",
        "021-62345678",
        "上海市浦东新区张江路88号",
        ["VIP", "华东"],
        [("陈静", "female", "采购经理", "021-62345679", "13801380001"), ("周建国", "male", "总经理", "021-62345670", None)],
    ),
    (
        "li.na",
        "苏州恒瑞精密机械股份有限公司",
        "jiangsu",
        "key_prospect",
        "manufacturing",
        "0512-66881234",
        "苏州市工业园区星湖街328号",
        ["华东"],
        [("吴涛", "male", "设备部主任", "0512-66881235", "13912340002")],
    ),
    (
        "li.na",
        "杭州西子电子商务有限公司",
        "zhejiang",
        "regular",
        "retail",
        "0571-87651234",
        "杭州市西湖区文三路199号",
        [],
        [("沈佳怡", "female", "运营总监", "0571-87651235", None)],
    ),
    (
        "li.na",
        "南京金陵医药有限公司",
        "jiangsu",
        "partner",
        "healthcare",
        "025-84561234",
        "南京市鼓楼区中山路55号",
        ["医药"],
        [("孙志强", "male", "采购主管", "025-84561235", "13770001234")],
    ),
    (
        "wang.fang",
        "宁波港联物流有限公司",
        "zhejiang",
        "major",
        "logistics",
        "0574-27881234",
        "宁波市北仑区明州路66号",
        ["VIP"],
        [("郑海波", "male", "物流经理", "0574-27881235", "13605740003")],
    ),
    (
        "wang.fang",
        "合肥科大讯达信息技术有限公司",
        "anhui",
        "strategic_partner",
        "it",
        "0551-65391234",
        "合肥市高新区望江西路800号",
        ["战略"],
        [("何丽", "female", "CTO", "0551-65391235", None), ("马超", "male", "采购专员", "0551-65391236", "13955100004")],
    ),
    (
        "wang.fang",
        "上海浦江建设工程有限公司",
        "shanghai",
        "regular",
        "construction",
        "021-58761234",
        "上海市闵行区虹梅南路1000号",
        [],
        [("林峰", "male", "项目经理", "021-58761235", None)],
    ),
    (
        "wang.fang",
        "无锡太湖新能源有限公司",
        "jiangsu",
        "key_prospect",
        "energy",
        "0510-85201234",
        "无锡市滨湖区蠡湖大道2000号",
        ["新能源"],
        [("钱敏", "female", "商务经理", "0510-85201235", "18906180005")],
    ),
    (
        "liu.yang",
        "深圳华南智能设备有限公司",
        "guangdong",
        "major",
        "manufacturing",
        "0755-26781234",
        "深圳市南山区科技园科发路8号",
        ["VIP", "华南"],
        [("黄志明", "male", "采购总监", "0755-26781235", "13823450006")],
    ),
    (
        "liu.yang",
        "广州珠江百货有限公司",
        "guangdong",
        "regular",
        "retail",
        "020-83341234",
        "广州市天河区天河路208号",
        ["华南"],
        [("梁晓燕", "female", "店长", "020-83341235", None)],
    ),
    (
        "liu.yang",
        "厦门海峡金融服务有限公司",
        "fujian",
        "partner",
        "finance",
        "0592-22881234",
        "厦门市思明区鹭江道100号",
        [],
        [("蔡文杰", "male", "IT 经理", "0592-22881235", "13906000007")],
    ),
    (
        "liu.yang",
        "南宁绿源农业科技有限公司",
        "guangxi",
        "key_prospect",
        "agriculture",
        "0771-55661234",
        "南宁市青秀区民族大道136号",
        ["农业"],
        [("韦金花", "female", "办公室主任", "0771-55661235", None)],
    ),
]

# days ago, location, summary, details
DEMO_INTERACTIONS = [
    (75, "客户总部", "初次拜访", "介绍公司产品线，了解客户现有系统与采购流程。"),
    (40, "电话", "需求沟通", "客户提出下季度扩容需求，约定提交方案。"),
    (12, "我司展厅", "方案演示", "演示解决方案并答疑，客户对交付周期较关注。"),
]


async def seed_customers(session: AsyncSession, users: dict[str, User]) -> None:
    existing = set(await session.scalars(select(Customer.name)))
    today = clock.now().date()
    for n, (owner, name, region, level, industry, phone, address, tags, contacts) in enumerate(DEMO_CUSTOMERS, start=1):
        if name in existing:
            continue
        found = await principal_for_user(session, users[owner].id)
        assert found is not None  # the demo people are active
        actor = found[0]
        created = await create_customer(
            session,
            actor,
            CustomerCreate(
                name=name,
                region=region,
                level=level,
                industry=industry,
                phone=phone,
                address=address,
                tags=tags,
                satisfaction=4,
                credit=4,
            ),
        )
        customer = created.record
        customer.external_id = f"{DEMO_EXTERNAL_ID}customer-{n:02d}"
        for index, (contact_name, gender, title, office_phone, mobile) in enumerate(contacts):
            await add_contact(
                session,
                actor,
                customer.id,
                ContactCreate(
                    name=contact_name,
                    gender=gender,
                    title=title,
                    office_phone=office_phone,
                    mobile=mobile,
                    # The first contact of each customer can be written to (POST …/emails).
                    email=f"contact{n:02d}@example.com" if index == 0 else None,
                ),
            )
        for days_ago, location, summary, details in DEMO_INTERACTIONS:
            await add_interaction(
                session,
                actor,
                customer.id,
                InteractionCreate(
                    occurred_on=today - timedelta(days=days_ago),
                    location=location,
                    summary=summary,
                    details=details,
                ),
            )
