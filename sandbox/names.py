"""Reference data for the synthetic world: names, places, banks, industries and legal wording.

Everything here is plain, immutable data; :mod:`sandbox.synth` draws from it with a seeded
``random.Random``. Region codes are real GB/T 2260 county-level codes, so resident IDs, USCCs,
police case numbers and court codes built from them look like the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    """A county-level district with its real 6-digit administrative region code."""

    province: str  # 广东省, or 北京市 for a municipality
    abbr: str  # one-character province abbreviation used in court case numbers: 粤
    city: str  # 深圳市 (equal to ``province`` for municipalities)
    name: str  # 南山区
    code: str  # 440305
    weight: int  # relative share of the population living here

    @property
    def municipality(self) -> bool:
        return self.province == self.city

    @property
    def city_short(self) -> str:
        """``深圳`` for 深圳市: the place name that leads an enterprise name."""
        return self.city.removesuffix("市")

    @property
    def short(self) -> str:
        """``南山`` for 南山区, ``浦东`` for 浦东新区: used in unit and branch names."""
        for suffix in ("新区", "区"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix) + 1:
                return self.name.removesuffix(suffix)
        return self.name

    @property
    def full_name(self) -> str:
        """``广东省深圳市南山区``, or ``北京市朝阳区`` for a municipality."""
        if self.municipality:
            return f"{self.city}{self.name}"
        return f"{self.province}{self.city}{self.name}"

    @property
    def basic_court(self) -> tuple[str, str]:
        """(court name, court code) of the district's basic-level people's court."""
        return f"{self.city}{self.name}人民法院", f"{self.abbr}{self.code[2:6]}"

    @property
    def intermediate_court(self) -> tuple[str, str]:
        """(court name, court code) of the intermediate court above the district."""
        if self.municipality:
            return f"{self.city}第一中级人民法院", f"{self.abbr}01"
        return f"{self.province}{self.city}中级人民法院", f"{self.abbr}{self.code[2:4]}"

    @property
    def police_unit(self) -> str:
        """The district police sub-bureau's economic crime squad."""
        return f"{self.city}公安局{self.short}分局经济犯罪侦查大队"

    @property
    def market_authority(self) -> str:
        return f"{self.city}{self.name}市场监督管理局"


def _parse_districts(table: str) -> tuple[District, ...]:
    """Parse lines of ``province abbr city weight: name code, name code ...``; a line that
    starts with spaces continues the one before."""
    districts = []
    for line in table.replace(",\n ", ", ").strip().splitlines():
        head, _, entries = line.partition(":")
        province, abbr, city, weight = head.split()
        for entry in entries.split(","):
            name, code = entry.split()
            districts.append(District(province, abbr, city, name, code, int(weight)))
    return tuple(districts)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _weighted(text: str) -> tuple[tuple[str, int], ...]:
    """Parse ``"王:72 李:72"`` into ``(("王", 72), ("李", 72))``."""
    pairs = (item.split(":") for item in text.split())
    return tuple((word, int(weight)) for word, weight in pairs)


# province, abbreviation, city, population weight: district region-code, ...
_DISTRICT_TABLE = """
北京市 京 北京市 9: 东城区 110101, 西城区 110102, 朝阳区 110105, 丰台区 110106, 石景山区 110107,
    海淀区 110108, 通州区 110112, 昌平区 110114, 大兴区 110115
天津市 津 天津市 5: 和平区 120101, 河东区 120102, 河西区 120103, 南开区 120104, 滨海新区 120116
上海市 沪 上海市 9: 黄浦区 310101, 徐汇区 310104, 长宁区 310105, 静安区 310106, 普陀区 310107,
    闵行区 310112, 宝山区 310113, 浦东新区 310115
重庆市 渝 重庆市 6: 渝中区 500103, 江北区 500105, 九龙坡区 500107, 南岸区 500108, 渝北区 500112
河北省 冀 石家庄市 5: 长安区 130102, 桥西区 130104, 裕华区 130108
河北省 冀 唐山市 3: 路北区 130203
河北省 冀 保定市 3: 竞秀区 130602
山西省 晋 太原市 4: 小店区 140105, 迎泽区 140106
内蒙古自治区 蒙 呼和浩特市 3: 新城区 150102
辽宁省 辽 沈阳市 4: 和平区 210102, 沈河区 210103
辽宁省 辽 大连市 4: 中山区 210202, 沙河口区 210204
吉林省 吉 长春市 4: 南关区 220102, 朝阳区 220104
黑龙江省 黑 哈尔滨市 4: 道里区 230102, 南岗区 230103
江苏省 苏 南京市 5: 玄武区 320102, 秦淮区 320104, 鼓楼区 320106
江苏省 苏 无锡市 4: 梁溪区 320213
江苏省 苏 苏州市 5: 吴中区 320506, 姑苏区 320508
浙江省 浙 杭州市 6: 上城区 330102, 拱墅区 330105, 西湖区 330106, 滨江区 330108, 余杭区 330110
浙江省 浙 宁波市 5: 海曙区 330203, 鄞州区 330212
浙江省 浙 温州市 5: 鹿城区 330302
安徽省 皖 合肥市 5: 瑶海区 340102, 蜀山区 340104, 包河区 340111
福建省 闽 福州市 4: 鼓楼区 350102, 台江区 350103
福建省 闽 厦门市 4: 思明区 350203, 湖里区 350206
江西省 赣 南昌市 4: 东湖区 360102, 西湖区 360103
山东省 鲁 济南市 5: 历下区 370102, 市中区 370103
山东省 鲁 青岛市 5: 市南区 370202, 市北区 370203, 崂山区 370212
河南省 豫 郑州市 6: 中原区 410102, 二七区 410103, 金水区 410105
湖北省 鄂 武汉市 6: 江岸区 420102, 江汉区 420103, 武昌区 420106, 洪山区 420111
湖南省 湘 长沙市 5: 芙蓉区 430102, 天心区 430103, 岳麓区 430104
广东省 粤 广州市 8: 越秀区 440104, 海珠区 440105, 天河区 440106, 白云区 440111
广东省 粤 深圳市 8: 罗湖区 440303, 福田区 440304, 南山区 440305, 宝安区 440306, 龙岗区 440307
广东省 粤 佛山市 5: 禅城区 440604
广西壮族自治区 桂 南宁市 4: 兴宁区 450102, 青秀区 450103
海南省 琼 海口市 3: 龙华区 460106, 美兰区 460108
四川省 川 成都市 6: 锦江区 510104, 青羊区 510105, 金牛区 510106, 武侯区 510107, 成华区 510108
贵州省 贵 贵阳市 4: 南明区 520102, 云岩区 520103
云南省 云 昆明市 4: 五华区 530102, 盘龙区 530103
陕西省 陕 西安市 5: 新城区 610102, 碑林区 610103, 莲湖区 610104, 雁塔区 610113
甘肃省 甘 兰州市 3: 城关区 620102
青海省 青 西宁市 2: 城东区 630102
宁夏回族自治区 宁 银川市 2: 兴庆区 640104
新疆维吾尔自治区 新 乌鲁木齐市 3: 天山区 650102
"""
DISTRICTS = _parse_districts(_DISTRICT_TABLE)

STREETS = _words(
    "人民路 解放路 中山路 建设路 和平路 新华路 文化路 朝阳路 滨河路 光明路 东风路 胜利路 "
    "青年路 花园路 友谊路 学院路 科技路 长江路 黄河路 健康路 幸福路 迎宾大道 世纪大道 金融街 "
    "商务大道 工业大道 湖滨路 南京路 北京路 上海路 银河路 民主路 团结路 振兴路 创业路 "
)
BUILDINGS = ("大厦", "中心", "广场", "国际", "商务楼", "科技园")

# Surnames with rough relative frequencies (per mille of the population).
SURNAMES = _weighted(
    "王:72 李:72 张:68 刘:54 陈:45 杨:32 黄:23 赵:22 吴:20 周:20 徐:16 孙:15 马:15 朱:14 胡:13 "
    "郭:13 何:12 林:12 高:12 罗:11 郑:10 梁:10 谢:8 宋:8 唐:8 许:7 韩:7 冯:7 邓:7 曹:6 彭:6 "
    "曾:6 肖:6 田:5 董:5 袁:5 潘:5 于:5 蒋:5 蔡:5 余:5 杜:4 叶:4 程:4 苏:4 魏:4 吕:4 丁:4 任:4 "
    "沈:4 姚:3 卢:3 姜:3 崔:3 钟:3 谭:3 陆:3 汪:3 范:3 金:3 石:3 廖:3 贾:3 夏:3 韦:3 方:2 白:2 "
    "邹:2 孟:2 熊:2 秦:2 邱:2 江:2 尹:2 薛:2 段:2 雷:2 侯:2 龙:2 史:2 陶:2 黎:2 贺:2 顾:2 毛:2 "
    "郝:2 龚:2 邵:2 万:2 钱:2 严:2 武:2 戴:2 孔:1 向:1 汤:1 欧阳:1 司马:1 诸葛:1 上官:1 "
)

GIVEN_MALE = tuple(
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国志文峰东亮成海振晨博毅睿泽轩"
    "然航嘉子昊铭天永庆德春荣胜立新"
)
GIVEN_FEMALE = tuple(
    "芳娜敏静丽艳娟霞秀英玲燕红梅莉婷雪琳晶颖倩洁慧萍月蕾佳欣怡悦涵琪璐瑶诗雨萱馨梦思雅春兰凤华"
    "桂淑素彤妍薇楠晓小海文丹宁云珍"
)

ETHNICITIES = _weighted(
    "汉族:914 壮族:14 回族:8 满族:8 维吾尔族:8 苗族:8 彝族:7 土家族:7 藏族:5 蒙古族:5 侗族:3 "
    "布依族:3 瑶族:2 白族:2 朝鲜族:2 "
)

PHONE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 177 180 "
    "181 182 183 185 186 187 188 189 191 198 199 "
)

# Characters that make up an enterprise's trade name (字号).
TRADE_NAME_CHARS = tuple(
    "鑫盛华泰恒瑞鼎汇通达宏伟昌隆兴旺嘉信诚德润丰金银安康永福祥和联创新源远博凯中天宇海星光明辉"
    "卓越尚品优佳益众聚惠利龙腾飞逸晟昊睿泽铭浩锦融弘亿万宝富顺启"
)


@dataclass(frozen=True)
class Industry:
    """An industry: the words that appear in enterprise names and the business scope text."""

    name: str  # GB/T 4754 style industry name
    weight: int
    name_words: tuple[str, ...]  # 投资管理, 信息科技 ...
    scope: str
    fundraising_risk: bool = False  # the kind of enterprise illegal fundraising hides behind


_FINANCE_SCOPE_TAIL = (
    "（未经有关部门批准，不得以公开方式募集资金；不得公开开展证券类产品和金融衍生品交易活动；"
    "不得发放贷款；不得对所投资企业以外的其他企业提供担保；不得向投资者承诺投资本金不受损失"
    "或者承诺最低收益）"
)
_APPROVAL_TAIL = "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"

INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "资本市场服务",
        10,
        ("投资管理", "资产管理", "财富管理", "投资咨询", "股权投资"),
        "投资管理；资产管理；投资咨询；企业管理咨询；经济贸易咨询。" + _FINANCE_SCOPE_TAIL,
        fundraising_risk=True,
    ),
    Industry(
        "其他金融业",
        4,
        ("融资租赁", "商业保理", "金融信息服务", "供应链金融"),
        "融资租赁业务；商业保理业务；金融信息服务（不含金融业务）；接受金融机构委托从事金融"
        "信息技术外包。" + _APPROVAL_TAIL,
        fundraising_risk=True,
    ),
    Industry(
        "软件和信息技术服务业",
        14,
        ("信息科技", "网络科技", "软件开发", "数据科技", "智能科技"),
        "技术开发、技术咨询、技术服务、技术转让；软件开发；计算机系统服务；数据处理；"
        "基础软件服务；应用软件服务。" + _APPROVAL_TAIL,
    ),
    Industry(
        "批发业",
        14,
        ("商贸", "贸易", "供应链管理", "进出口贸易"),
        "销售日用品、五金交电、电子产品、针纺织品、服装、化妆品、食用农产品；货物进出口；"
        "技术进出口；代理进出口。" + _APPROVAL_TAIL,
    ),
    Industry(
        "零售业",
        6,
        ("百货", "超市", "商业"),
        "零售日用百货、预包装食品、文具用品、体育用品、工艺品；电子商务（不含增值电信业务）。"
        + _APPROVAL_TAIL,
    ),
    Industry(
        "房地产业",
        6,
        ("房地产开发", "置业", "物业管理", "房地产经纪"),
        "房地产开发；销售自行开发的商品房；物业管理；房地产经纪；房地产信息咨询。" + _APPROVAL_TAIL,
    ),
    Industry(
        "建筑业",
        7,
        ("建筑工程", "建设工程", "装饰工程", "市政工程"),
        "施工总承包；专业承包；建筑装饰装修工程设计与施工；市政公用工程施工；工程勘察设计。"
        + _APPROVAL_TAIL,
    ),
    Industry(
        "商务服务业",
        12,
        ("企业管理咨询", "文化传媒", "广告", "会展服务", "商务咨询"),
        "企业管理咨询；企业策划；设计、制作、代理、发布广告；承办展览展示活动；会议服务；"
        "市场调查。" + _APPROVAL_TAIL,
    ),
    Industry(
        "农业",
        4,
        ("农业科技", "生态农业", "农业开发"),
        "种植、销售花卉、苗木、蔬菜、水果；农业技术开发、技术推广；农业观光旅游。" + _APPROVAL_TAIL,
    ),
    Industry(
        "制造业",
        9,
        ("电子科技", "机械制造", "新材料科技", "食品", "服饰"),
        "生产、加工电子元器件、机械设备、塑料制品；销售自产产品；技术开发；货物进出口。"
        + _APPROVAL_TAIL,
    ),
    Industry(
        "卫生和社会工作",
        4,
        ("健康管理", "养老服务", "康养产业", "医疗科技"),
        "健康管理、健康咨询（须经审批的诊疗活动除外）；养老服务；家政服务；老年人日间照料。"
        + _APPROVAL_TAIL,
        fundraising_risk=True,
    ),
    Industry(
        "餐饮业",
        4,
        ("餐饮管理", "餐饮"),
        "餐饮服务；餐饮管理；销售食品；酒店管理。" + _APPROVAL_TAIL,
    ),
    Industry(
        "道路运输业",
        4,
        ("物流", "运输", "货运代理"),
        "普通货运；货物专用运输（集装箱）；国内货运代理；仓储服务（不含危险化学品）；装卸服务。"
        + _APPROVAL_TAIL,
    ),
    Industry(
        "教育",
        3,
        ("教育科技", "文化传播", "培训"),
        "教育咨询（不含出国留学咨询及中介服务）；组织文化艺术交流活动；技术推广服务。"
        + _APPROVAL_TAIL,
    ),
)

MIDDLE_WORDS = ("", "", "", "", "财富", "资本", "控股", "国际", "环球", "实业", "集团")
FINANCE_MIDDLE_WORDS = ("财富", "资本", "国际", "金控", "汇金")

# Legal forms with relative frequencies.
LEGAL_FORMS: tuple[tuple[str, int], ...] = (
    ("有限公司", 80),
    ("有限责任公司", 12),
    ("股份有限公司", 5),
    ("合伙企业（有限合伙）", 3),
)

ENTERPRISE_STATUSES: tuple[tuple[str, int], ...] = (
    ("存续", 70),
    ("在业", 15),
    ("吊销", 8),
    ("注销", 7),
)

ABNORMAL_REASONS = (
    "通过登记的住所或者经营场所无法联系",
    "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
    "未在市场监督管理部门依照《企业信息公示暂行条例》第十条规定责令的期限内公示有关企业信息",
    "公示企业信息隐瞒真实情况、弄虚作假",
)
ABNORMAL_REMOVAL_RATE = 0.4

PENALTY_VIOLATIONS = (
    "发布含有保本、保息或者承诺高收益内容的虚假广告",
    "未经许可从事融资中介活动",
    "提交虚假材料取得公司登记",
    "销售不符合安全标准的产品",
    "未按规定公示年度报告且拒不改正",
    "利用广告对商品或者服务作虚假宣传",
    "无照经营",
)


@dataclass(frozen=True)
class Bank:
    """A bank: full name and card BIN prefixes with their card-number length."""

    name: str
    weight: int
    bins: tuple[tuple[str, int], ...]  # (prefix, total number length)


BANKS: tuple[Bank, ...] = (
    Bank("中国工商银行", 20, (("622202", 19), ("621226", 19))),
    Bank("中国农业银行", 15, (("622848", 19), ("622845", 19))),
    Bank("中国银行", 12, (("621661", 19), ("621785", 19))),
    Bank("中国建设银行", 16, (("621700", 19), ("622700", 19))),
    Bank("交通银行", 7, (("622262", 19), ("622260", 19))),
    Bank("中国邮政储蓄银行", 8, (("621799", 19), ("622188", 19))),
    Bank("招商银行", 8, (("622588", 16), ("621483", 16))),
    Bank("中信银行", 3, (("622690", 16), ("621771", 16))),
    Bank("兴业银行", 4, (("622909", 18), ("622908", 18))),
    Bank("上海浦东发展银行", 3, (("622521", 16), ("622518", 16))),
    Bank("中国民生银行", 2, (("622622", 16), ("415599", 16))),
    Bank("平安银行", 2, (("622155", 16), ("622157", 16))),
)

ACCOUNT_STATUSES: tuple[tuple[str, int], ...] = (("正常", 95), ("销户", 5))

CHANNELS_PERSONAL: tuple[tuple[str, int], ...] = (
    ("手机银行", 45),
    ("第三方支付", 25),
    ("网银", 12),
    ("ATM", 10),
    ("柜面", 8),
)
CHANNELS_CORPORATE: tuple[tuple[str, int], ...] = (("网银", 70), ("柜面", 20), ("手机银行", 10))

MEMOS_PERSON_TO_PERSON = ("转账", "生活费", "还款", "借款", "房租", "红包", "代付", "")
MEMOS_ENTERPRISE_TO_PERSON = ("工资", "报销款", "劳务费", "奖金", "分红")
MEMOS_TO_ENTERPRISE = ("货款", "服务费", "会员费", "定金", "预付款")
MEMOS_ENTERPRISE_TO_ENTERPRISE = ("货款", "服务费", "往来款", "工程款", "租金", "技术服务费")

# Counterparties outside the world (merchants, payment institutions).
EXTERNAL_COUNTERPARTIES: tuple[tuple[str, str], ...] = (
    ("支付宝（中国）网络技术有限公司", "消费"),
    ("财付通支付科技有限公司", "消费"),
    ("国网电力公司", "电费"),
    ("中国移动通信集团有限公司", "话费"),
    ("北京三快在线科技有限公司", "外卖"),
    ("京东商城", "网购"),
)

SUSPICIOUS_PATTERNS: tuple[tuple[str, int], ...] = (
    ("分散转入、集中转出", 30),
    ("定期批量小额转出", 20),
    ("短期内资金快进快出", 25),
    ("大额现金存取", 15),
    ("与高风险地区频繁资金往来", 10),
)
REPORT_STATUSES: tuple[tuple[str, int], ...] = (
    ("待分析", 30),
    ("已分析", 40),
    ("已移送", 20),
    ("已排除", 10),
)

# Police.
POLICE_CHARGES: tuple[tuple[str, int], ...] = (
    ("非法吸收公众存款", 35),
    ("集资诈骗", 12),
    ("非法经营", 13),
    ("诈骗", 30),
    ("组织、领导传销活动", 6),
    ("擅自发行股票、公司、企业债券", 4),
)
# Charges that are committed through an enterprise.
ENTERPRISE_CHARGES = frozenset(
    {
        "非法吸收公众存款",
        "集资诈骗",
        "非法经营",
        "组织、领导传销活动",
        "擅自发行股票、公司、企业债券",
    }
)
POLICE_STATUSES: tuple[tuple[str, int], ...] = (
    ("立案", 15),
    ("侦查", 35),
    ("移送起诉", 25),
    ("结案", 25),
)
ASSET_TYPES_NON_ACCOUNT = ("房产", "车辆", "现金", "股权")

SUMMARY_TEMPLATES = {
    "非法吸收公众存款": (
        "{since}以来，犯罪嫌疑人{suspect}等人以{enterprise}名义，以承诺高额固定回报为诱饵，"
        "通过推介会、熟人介绍等方式向社会不特定公众吸收资金，涉及群众{victims}人，"
        "涉案金额约{amount}万元。"
    ),
    "集资诈骗": (
        "{since}以来，犯罪嫌疑人{suspect}等人以{enterprise}名义，虚构投资项目，以非法占有为目的"
        "向社会公众募集资金后用于挥霍和偿还前期投资人本息，涉及群众{victims}人，涉案金额约{amount}万元。"
    ),
    "非法经营": (
        "{since}以来，犯罪嫌疑人{suspect}等人以{enterprise}名义，未经国家有关主管部门批准，"
        "非法从事资金支付结算业务，涉案金额约{amount}万元。"
    ),
    "诈骗": (
        "{since}以来，犯罪嫌疑人{suspect}以投资理财、网络刷单等名义，骗取被害人{victims}人"
        "钱款共计约{amount}万元。"
    ),
    "组织、领导传销活动": (
        "{since}以来，犯罪嫌疑人{suspect}等人以{enterprise}名义，以发展会员、缴纳入门费的方式"
        "组织传销活动，层级达数十层，涉及人员{victims}人，涉案金额约{amount}万元。"
    ),
    "擅自发行股票、公司、企业债券": (
        "{since}以来，犯罪嫌疑人{suspect}等人以{enterprise}名义，未经批准向社会不特定对象"
        "转让公司股权，涉及群众{victims}人，涉案金额约{amount}万元。"
    ),
}

# Courts.
CIVIL_CAUSES: tuple[tuple[str, int, str], ...] = (
    # (cause of action, weight, parties: "pp" person v person, "pe" person v enterprise, ...)
    ("民间借贷纠纷", 35, "pp"),
    ("民间借贷纠纷", 10, "pe"),
    ("买卖合同纠纷", 15, "ee"),
    ("劳动争议", 10, "pe"),
    ("房屋租赁合同纠纷", 8, "pp"),
    ("委托理财合同纠纷", 6, "pe"),
    ("服务合同纠纷", 6, "pe"),
    ("股权转让纠纷", 5, "pp"),
    ("建设工程施工合同纠纷", 5, "ee"),
)
CRIMINAL_CAUSE = {
    "非法吸收公众存款": "非法吸收公众存款罪",
    "集资诈骗": "集资诈骗罪",
    "非法经营": "非法经营罪",
    "诈骗": "诈骗罪",
    "组织、领导传销活动": "组织、领导传销活动罪",
    "擅自发行股票、公司、企业债券": "擅自发行股票、公司、企业债券罪",
}
# {owed}: 借款本金 for loan disputes, 款项 otherwise.
CIVIL_OUTCOMES = (
    "判决被告偿还原告{owed}{amount}元及利息",
    "判决被告支付原告{amount}元",
    "双方达成调解协议，被告分期支付原告{amount}元",
)
CIVIL_OUTCOME_DISMISSED = "驳回原告的诉讼请求"
CRIMINAL_OUTCOME = "判处有期徒刑{years}年，并处罚金人民币{fine}元，责令退赔被害人经济损失"
ENFORCEMENT_MEASURES = (
    "查询存款",
    "冻结存款",
    "划拨存款",
    "查封不动产",
    "扣押车辆",
    "限制高消费",
    "纳入失信名单",
)
DEFAULTER_PERFORMANCE = ("全部未履行", "部分未履行")
