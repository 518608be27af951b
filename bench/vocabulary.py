"""Words the generator builds realistic Chinese company, person, product and place names from."""

# Dictionary region value -> its cities with their telephone area codes (no trunk 0).
REGION_CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "beijing": (("北京", "10"),),
    "shanghai": (("上海", "21"),),
    "tianjin": (("天津", "22"),),
    "chongqing": (("重庆", "23"),),
    "guangdong": (("广州", "20"), ("深圳", "755"), ("东莞", "769"), ("佛山", "757")),
    "jiangsu": (("南京", "25"), ("苏州", "512"), ("无锡", "510"), ("常州", "519")),
    "zhejiang": (("杭州", "571"), ("宁波", "574"), ("温州", "577")),
    "shandong": (("济南", "531"), ("青岛", "532"), ("烟台", "535")),
    "fujian": (("福州", "591"), ("厦门", "592"), ("泉州", "595")),
    "sichuan": (("成都", "28"), ("绵阳", "816")),
    "hubei": (("武汉", "27"), ("宜昌", "717")),
    "hunan": (("长沙", "731"), ("株洲", "731")),
    "henan": (("郑州", "371"), ("洛阳", "379")),
    "hebei": (("石家庄", "311"), ("保定", "312")),
    "anhui": (("合肥", "551"), ("芜湖", "553")),
    "liaoning": (("沈阳", "24"), ("大连", "411")),
    "shaanxi": (("西安", "29"), ("宝鸡", "917")),
    "yunnan": (("昆明", "871"),),
    "guangxi": (("南宁", "771"), ("柳州", "772")),
    "heilongjiang": (("哈尔滨", "451"), ("大庆", "459")),
}

# Two of these make a brand (恒信, 华泰…): 3,600 brands.
BRAND_CHARACTERS = (
    "华中国新金宏泰鑫瑞恒盛达隆昌利源丰嘉信诚通海天博远佳凯伟明安康德兴龙鹏飞腾宇星光辉永正和合汇聚成立东方乐晨创锦"
)

# Dictionary industry value -> what such a company calls its trade.
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "manufacturing": ("机械", "五金", "精密制造", "电器", "模具"),
    "retail": ("商贸", "百货", "连锁超市", "贸易"),
    "it": ("信息技术", "软件", "网络科技", "数据服务"),
    "finance": ("投资", "融资租赁", "资产管理"),
    "healthcare": ("医疗器械", "医药", "生物科技"),
    "education": ("教育科技", "职业培训"),
    "logistics": ("物流", "供应链管理", "货运代理"),
    "energy": ("能源", "新能源", "电力设备"),
    "construction": ("建筑工程", "建材", "装饰工程"),
    "agriculture": ("农业科技", "农产品", "种业"),
}

# Legal-form suffixes with how often they occur.
COMPANY_SUFFIXES = (("有限公司", 60), ("有限责任公司", 20), ("股份有限公司", 15), ("集团有限公司", 5))

ROADS = ("人民路", "中山路", "解放路", "建设路", "新华路", "和平路", "科技路", "工业大道", "滨江大道", "长江路")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
GIVEN_NAME_CHARACTERS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红斌建国志文俊峰雪梅晓东"

CONTACT_TITLES = ("总经理", "采购经理", "财务总监", "技术总监", "行政主管", "销售经理", "项目经理", "董事长")

INTERACTION_SUMMARIES = (
    "季度回访",
    "新品推介",
    "合同续签洽谈",
    "售后问题沟通",
    "年度采购计划讨论",
    "付款进度跟进",
    "技术交流会",
)
INTERACTION_OUTCOMES = ("客户反馈良好，约定下月再跟进。", "客户提出价格异议，需提交新报价。", "已确认需求，安排技术人员上门。")
INTERACTION_PLACES = ("客户现场", "公司会议室", "电话沟通", "线上会议", "展会")

PRODUCT_KINDS = (
    "工业传感器",
    "伺服电机",
    "变频器",
    "控制柜",
    "液压泵",
    "轴承",
    "不锈钢阀门",
    "PLC模块",
    "工业电缆",
    "触摸屏",
)
PRODUCT_UNITS = ("台", "件", "套", "箱", "米")
WAREHOUSES = ("上海一号仓", "广州中心仓", "北京仓", "成都仓", "武汉仓")

TEAM_AREAS = ("华北", "华东", "华南", "华中", "西南", "西北", "东北")

# Opportunities: what the prospect wants to buy (with a product kind), and why a deal was lost.
OPPORTUNITY_NEEDS = ("年度备件采购", "生产线自动化改造", "仓储系统升级", "设备维保外包", "新厂区设备采购", "节能改造项目")
LOST_REASONS = ("价格高于竞争对手", "客户预算取消", "客户选择了原有供应商", "项目无限期推迟", "技术方案不满足要求")

# Dictionary service_type value -> ticket summaries ({kind}: a product kind).
TICKET_SUMMARIES: dict[str, tuple[str, ...]] = {
    "consultation": ("咨询{kind}的安装调试", "咨询{kind}的保养周期", "咨询{kind}的批量采购价格", "咨询{kind}的质保条款"),
    "suggestion": ("建议{kind}增加远程监控功能", "建议缩短{kind}的交货周期", "建议提供{kind}的操作培训"),
    "complaint": ("{kind}运行异响", "{kind}到货外包装破损", "{kind}故障报修后无人跟进", "{kind}发票信息有误"),
}
HANDLING_METHODS = (
    "电话指导客户完成设置",
    "安排工程师上门检修",
    "远程诊断并更新固件",
    "更换故障部件",
    "已转产品部评估并答复客户",
)
SATISFIED_RESULTS = ("问题已解决，客户满意", "客户认可处理结果", "处理及时，客户表示感谢")
UNSATISFIED_RESULTS = ("客户认为处理太慢，要求重开", "问题未彻底解决，要求重新处理")

CHURN_MEASURES = ("电话回访，了解客户采购计划", "上门拜访，提供专属折扣方案", "邀请客户参加新品发布会", "提供免费设备巡检服务")
CHURN_REASONS = ("客户业务转型，不再采购我司产品", "客户已转向竞争对手", "客户经营困难，暂停采购", "客户被收购，由集团统一采购")

# Quotes and contracts: what is offered ({kind}: a product kind), what the customer said, why a contract ended early.
QUOTE_TITLES = ("{kind}年度采购报价", "{kind}补货报价", "{kind}项目配套报价", "{kind}备件报价")
QUOTE_NOTES = ("含运费及安装调试。", "交货期：合同签订后30天内。", None, None)
REJECTION_NOTES = ("价格高于预算", "已选择其他供应商", "项目推迟，暂不采购")
CONTRACT_TITLES = ("{kind}年度供货合同", "{kind}采购合同", "{kind}设备维保合同", "{kind}框架协议")
TERMINATION_REASONS = ("客户项目取消，双方协商解除", "客户长期未付款，依约解除", "客户经营困难，申请终止")
RECEIPT_METHODS = ("bank_transfer",) * 6 + ("acceptance_bill",) * 2 + ("cash", "cheque")
