"""Short-answer extraction, one question type at a time, on hand-made sentences."""

from __future__ import annotations

import pytest

from rag.extract import anchor_strength, defines, focus_match, short_answer
from rag.question import analyze


def span_text(sentence: str, question: str, history=None) -> str | None:
    sp = short_answer(sentence, analyze(question, history))
    return None if sp is None else sentence[sp[0] : sp[1]]


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # number with its unit; the unit the question asks in wins
        (
            "近日,珠海高新区举行5月重点项目入驻签约仪式,共落地重点项目16个,项目计划总投资额超22亿元。",
            "珠海高新区5月落地了多少个重点项目？",
            "16个",
        ),
        (
            "此次集中签约项目共有21个,总投资42.93亿元,涵盖电子信息等多个领域。",
            "咸阳高新区签约项目的总投资是多少？",
            "42.93亿元",
        ),
        ("为高校毕业生提供免费创业工位700余个。", "将提供多少个免费创业工位？", "700余个"),
        ("新增青年见习岗位超过2000个;", "新增多少个青年见习岗位？", "超过2000个"),
        # a date inside the number's sentence is not the quantity
        ("5月30日,咸阳高新区集中签约项目21个。", "咸阳高新区签约了几个项目？", "21个"),
        # the measure the question implies (体重 → weight units) beats other numbers
        (
            "成年的尤金袋鼠有三个亚种,体型很小,约只有8公斤重。",
            "尤金袋鼠的体重大约是多少？",
            "8公斤",
        ),
        # ranges and thousands separators
        ("生长于海拔100米至2,800米的地区。", "五月艾生长的地区海拔约是多少米？", "100米至2,800米"),
        ("男子的平均年收入为31,875美元。", "男子的平均年收入是多少？", "31,875美元"),
        # a ratio is one answer; 第几 keeps its 第; Taiwanese units
        ("目前学校男女生比例约为1：7（男：女）。", "目前学校男女生比例是多少？", "约为1：7"),
        ("高英是嫁入北魏皇家的第二位皇后。", "高英是嫁入北魏皇家的第几位皇后？", "第二位"),
        ("黄鳍紫鱼体长可达50公分。", "黄鳍紫鱼体长多少？", "达50公分"),
        # square units, a tolerance's sign, a race time in minutes and seconds
        ("其陆地管辖面积为1750.33km²，在西班牙城市中是最大的。", "陆地面积是多大？", "1750.33km²"),
        ("该区土地面积1.601 km²，是巴黎市第三小的区。", "该区的土地面积是多少？", "1.601 km²"),
        ("追踪距离20km，距离精度±10m，方位精度±1mil。", "雷达的距离精度是多少？", "±10m"),
        (
            "打破4x100米自由式接力世界纪录，时间为3分33秒62。",
            "创造的新世界纪录是多少？",
            "3分33秒62",
        ),
        # 万余件, Latin units in any case, more classifiers, a distance
        ("馆藏文物和民俗藏品共计1.8万余件。", "博物馆共有多少件藏品？", "1.8万余件"),
        ("长宗我部元亲将军队分成2股。", "长宗我部元亲将军队分成几股？", "2股"),
        ("核心库编译后不足400KB。", "核心库编译后有多大？", "不足400KB"),
        ("处理器的速度为4.7 GHz。", "处理器速度是多少？", "4.7 GHz"),
        ("第八届共有73组音乐人参演，三个舞台同时演出。", "有多少组音乐人参演？", "73组"),
        ("辖一个社区，镇政府驻地距离县城约28公里。", "青溪镇距离县城有多远？", "约28公里"),
        # a duration is not part of a date; a change gives the figure it changed to
        ("7月9日,平台正式投入运行。", "流片大概要等多久？", None),
        ("流片周期由过去的6个月缩短至45天左右。", "流片大概要等多久？", "45天左右"),
        ("流片周期由过去的6个月缩短至45天左右。", "流片周期过去要多久？", "6个月"),
    ],
)
def test_numbers(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        (
            "5月27日,中关村发展集团与北京航空航天大学签署战略合作协议。",
            "合作协议是哪天签的？",
            "5月27日",
        ),
        ("卡塞雷斯城是罗马人在公元前25年建立的。", "卡塞雷斯城是何时建立的？", "公元前25年"),
        (
            "这两台智能运动设备将在大运会结束后对公众开放。",
            "智能运动设备什么时候向公众开放？",
            "大运会结束后",
        ),
        # a date the question already names is not the answer
        (
            "2013年3月当选全国政协副主席,2014年5月退休。",
            "2013年3月当选后，他哪一年退休？",
            "2014年",  # 哪一年: the year alone
        ),
        # a reign year keeps its era name and its common-era year
        ("渡川之战发生于天正3年（1575年）。", "渡川之战发生于什么时候？", "天正3年（1575年）"),
        # a range is one answer
        ("花期2月至4月，果期5月。", "滇南报春的花期是什么时候？", "2月至4月"),
        (
            "该动画于2021年4月8日至6月24日播出。",
            "动画是在什么时间播出的？",
            "2021年4月8日至6月24日",
        ),
        ("生殖季在2至4月。", "斯氏腔吻鳕的生殖季是什么时候？", "2至4月"),
        ("赛事于2008年8月15日及8月16日举行。", "赛事什么时候举行？", "2008年8月15日及8月16日"),
        # 哪一年 asks for the year alone
        ("该系统于1995年初开始运作。", "A-135反弹道导弹系统于哪年开始运作？", "1995年"),
        ("她于2006年2月14日发行了第一张专辑。", "她于哪一年的2月14日发行了第一张专辑？", "2006年"),
        # a common-era year in brackets keeps the reign year it explains
        (
            "松平康忠于永禄5年 （1562年）被任命为知行。",
            "他什么时候被任命为知行？",
            "永禄5年 （1562年）",
        ),
        ("承光元年（577年）被释放。", "元皇后什么时候被释放出来的？", "承光元年（577年）"),
        # the date right before the question's own words (…|加入中国共产党)
        (
            "1981年7月参加工作，1982年7月加入中国共产党。",
            "蒋巨峰是何时加入中国共产党的？",
            "1982年7月",
        ),
    ],
)
def test_dates(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        (
            "鹏钛存储技术(南京)有限公司中国芯片事业部总经理王晓表示。",
            "中国芯片事业部总经理是谁？",
            "王晓",
        ),
        ("该教堂由建筑师博罗米尼设计。", "该教堂是由谁设计的？", "建筑师博罗米尼"),
    ],
)
def test_people(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        (
            "中关村发展集团与北京航空航天大学签署战略合作协议。",
            "中关村发展集团与哪所大学签署了战略合作协议？",
            "北京航空航天大学",
        ),
        ("宏都阿里山公司与宏都建设同样位于嘉义市。", "宏都阿里山公司总部位于哪里？", "嘉义市"),
        ("蒂亚戈·蒙泰罗,葡萄牙赛车手。", "蒂亚戈·蒙泰罗是哪个国家的赛车手？", "葡萄牙"),
        ("银行总部位于胡志明市。", "西贡商信银行的总部在哪里？", "胡志明市"),
    ],
)
def test_places_and_organisations(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        (
            "共落地重点项目16个,涵盖集成电路、新能源、智能制造、生物医药与医疗器械等领域。",
            "珠海高新区签约的重点项目涵盖哪些领域？",
            "集成电路、新能源、智能制造、生物医药与医疗器械",
        ),
        (
            "成都高新体育中心迎来了两台“成都造”智能运动设备——乒乓球机器人和体感互动瑜伽屏。",
            "成都高新体育中心迎来了哪两台智能运动设备？",
            "乒乓球机器人和体感互动瑜伽屏",
        ),
        ("生命数耗完即算为踢爆。", "生命数耗完即算为什么？", "踢爆"),
        (
            "本鱼分布于西太平洋区,包括菲律宾、印尼、琉球群岛等海域。",
            "此鱼分布在哪些地区？",
            "西太平洋区,包括菲律宾、印尼、琉球群岛",
        ),
        # a count of the items is not the items
        ("园区的职能有四个方面：一是招商，二是服务。", "园区的职能有哪些？", None),
    ],
)
def test_what_and_lists(sentence, question, expected):
    assert span_text(sentence, question) == expected


def test_why_and_how_have_no_short_answer():
    assert span_text("因为呋塞米有遮盖其他用药痕迹之疑虑。", "为什么呋塞米被列入禁药名单？") is None


def test_traditional_question_extracts_from_simplified_text():
    assert span_text("此次集中签约项目共有21个。", "咸陽高新區簽約了多少個項目？") == "21个"


def test_focus_and_anchor_features():
    q = analyze("蓝线裸顶鲷的身体是什么颜色的？")
    assert (focus_match("本鱼体呈银灰色。", q), focus_match("属肉食性。", q)) == (1.0, 0.0)
    assert focus_match("任何句子", analyze("他为什么离开？")) == 0.5
    # a role is said by its verb (执导), a former name by 最初名为
    q = analyze("电影《雾港》的导演是谁？")
    assert (focus_match("该片由陈立川执导。", q), focus_match("梁朔凭借片中的表演获提名。", q)) == (
        1.0,
        0.0,
    )
    q = analyze("企业花在算力上的钱平均能省下多少？")
    assert focus_match("企业的算力成本平均可下降约40%。", q) == 1.0
    assert focus_match("向213家中小企业发放算力券。", q) == 0.0
    q = analyze("天门冬的根有什么特点？")  # a sentence that opens with the part described
    assert (focus_match("根稍肉质，分枝具棱。", q), focus_match("天门冬又称大当门根。", q)) == (
        1.0,
        0.5,
    )
    q = analyze("车站最初叫什么名字？")
    assert (focus_match("车站最初名为“上川站”。", q), focus_match("车站位于上川町。", q)) == (
        1.0,
        0.0,
    )
    assert anchor_strength("生命数耗完即算为踢爆。", analyze("生命数耗完即算为什么？")) == 1.0
    assert anchor_strength("毫不相干。", analyze("生命数耗完即算为什么？")) == 0.0


@pytest.mark.parametrize(
    "question,sentence,expected",
    [
        ("什么是内台航路？", "内台航路，或称内台航线，是台湾日治时期的海运航线。", 1.0),
        ("什么是内台航路？", "内台联络船即航行于内台航路的船舶。", 0.0),  # shares only 内台
        ("什么是“乡里制”？", "乡里制，是中国古代农村社会基层组织体系。", 1.0),
        ("什么是“乡里制”？", "乡里制作为基层组织体系，其职能有四个方面。", 0.0),
        ("什么是三鹰球？", "所谓三鹰就是单一洞低于标准杆4杆。", 1.0),
        ("乙酰胺是什么？", "乙酰胺（）是由乙酸衍生出的酰胺。", 1.0),
        ("乙酰胺是什么？", "乙酰胺的衍生物是常用溶剂。", 0.0),
        ("乙酰胺的用途是什么？", "乙酰胺是由乙酸衍生出的酰胺。", 0.0),  # not a definition question
    ],
)
def test_defines(question, sentence, expected):
    assert defines(sentence, analyze(question)) == expected


def test_focus_before_shi_shenme():
    q = analyze("盾柱木的别名是什么？")
    assert q.focus == "别名"
    assert focus_match("别称双翼豆、闭䇲木。", q) == 1.0
    assert focus_match("盾柱木是豆科的植物。", q) == 0.0


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # 分别为 leads in; 公里 keeps its 里; 例如 alone answers nothing
        ("条约签订双方的代表分别为周恩来与金日成。", "条约签订双方的代表是谁？", "周恩来与金日成"),
        (
            "六浦－神武寺2.8公里的路段为京急线最长的站间距离。",
            "哪个路段是京急线最长的站间距离？",
            "六浦－神武寺2.8公里",
        ),
        (
            "吉布三兄弟在专辑中都有其主唱的歌曲，例如：巴里·吉布主唱《Loose Talk》。",
            "吉布三兄弟在专辑中各自的主唱歌曲是什么？",
            None,
        ),
        # a common word jieba's dictionary tags as a place is no place's name
        ("他出生于一座沿海城市。", "他在哪里出生？", None),
    ],
)
def test_span_edges(sentence, question, expected):
    assert span_text(sentence, question) == expected


def test_range_clause_answers_where_something_lives():
    from rag.extract import range_clause

    def clause(sentence, question):
        sp = range_clause(sentence, analyze(question))
        return None if sp is None else sentence[sp[0] : sp[1]]

    s = "是东南亚的一种穿山甲，分布在泰国、印尼及新加坡的森林。"
    assert clause(s, "马来穿山甲分布在哪些地区？") == "分布在泰国、印尼及新加坡的森林"
    s = "它分布于云南省南部的屏边、金平等地，生长于海拔1,800米的山坡。"
    assert clause(s, "滇南报春分布在哪些地区？") == "分布于云南省南部的屏边、金平等地"
    assert clause("原产于中国海南岛、越南及美洲等。", "盾柱木的原产地在哪里？") == (
        "原产于中国海南岛、越南及美洲等"
    )
    # a clause with its own subject: the whole sentence answers
    assert clause("本鱼分布于西太平洋区，包括菲律宾、印尼。", "此鱼分布在哪些地区？") is None
    assert clause("分布于越南。", "五月艾有什么特点？") is None  # not asked


def test_a_subset_follow_up_takes_the_count_after_its_sentences_own_qizhong():
    history = ["南京江北新区现在有多少家集成电路企业？"]
    sentence = "江北新区已集聚集成电路企业700余家,其中设计企业412家。"
    assert span_text(sentence, "其中做芯片设计的有多少家？", history) == "412家"


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # the question's ending worded otherwise in the text: 用在/用于, 源于/源自, 也叫/或称
        (
            "六十进制在一般运算中并不常用，主要用于计算角度、地理座标和时间。",
            "六十进制一般用在什么场合？",
            "计算角度、地理座标和时间",
        ),
        ("英语的“暴发户”这个词源自法语，是动词的过去分词。", "英语“暴发户”一词源于哪里？", "法语"),
        (
            "内台航路，或称内台航线，是连结日本内地与台湾的海运航线。",
            "内台航路也叫什么？",
            "内台航线",
        ),
        ("牛佬，香港漫画家，原名文启明，1961年出生。", "牛佬原名叫什么？", "文启明"),
        ("该中心属惩教署管理，位于屯门。", "该中心属于哪个机构管理？", "惩教署"),
        # the answer before 是, when the question's words end the sentence
        (
            "威斯康辛州州立公路13号是瓦士本市最重要的主街道，连接南北。",
            "瓦士本市最重要的主街道是什么？",
            "威斯康辛州州立公路13号",
        ),
        ("“卡基达”是它的启动口令，加勒特曾受它影响。", "它的启动口令是什么？", "卡基达"),
        # a gloss in brackets after the name: the place named later answers
        ("潘嘉丽（英文名：Pan），新加坡人，新加坡及台湾歌手。", "潘嘉丽是哪儿的人？", "新加坡"),
        # between the question's words a gloss and a clause: the name nearest the words
        # after the question word (哪国 asks for a place)
        (
            "蒙泰罗（Tiago Monteiro, 1976年7月24日 - ）是一位葡萄牙F1赛车手。",
            "蒙泰罗是哪个国家的赛车手？",
            "葡萄牙",
        ),
        ("狄尔泰（Wilhelm Dilthey，），德国哲学家，历史学家。", "狄尔泰是哪国的哲学家？", "德国"),
        (
            "桃花源小厨（Tim's Kitchen）是一所在2000年于香港开设的小店。",
            "桃花源小厨在哪儿开设？",
            "香港",
        ),
    ],
)
def test_worded_otherwise(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # names jieba cuts up are joined again
        ("同名主题曲《鳄鱼泪》，由袁丽嫦原唱，并由黄霑作曲。", "主题曲的原唱是谁？", "袁丽嫦"),
        (
            "首先击杀了武田家的先锋熊谷元直，武田元繁大怒。",
            "毛利元就首先击杀了谁？",
            "武田家的先锋熊谷元直",
        ),
        (
            "四泉圣嘉禄堂由建筑师博罗米尼设计，修建于1638年。",
            "四泉圣嘉禄堂是由谁设计的？",
            "建筑师博罗米尼",
        ),
        (
            "在1994年，汤玛斯·霍尔兹（Thomas Holtz）正式建立了这个名称。",
            "谁正式建立了这个名称？",
            "汤玛斯·霍尔兹",
        ),
    ],
)
def test_split_names_are_joined(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # the date right before the question's event words wins over the subject's
        (
            "占旭刚1987年进入浙江省举重队，1994年入选中国国家举重队。",
            "占旭刚什么时候入选中国国家举重队？",
            "1994年",
        ),
        (
            "冷湖原为无人区，1959年设立冷湖市，1964年降格为镇，1992年升级为县。",
            "冷湖市是何时设立的？",
            "1959年",
        ),
    ],
)
def test_the_date_of_the_event_asked(sentence, question, expected):
    assert span_text(sentence, question) == expected


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # 是什么的简称: the full name before the text's 简称
        (
            "宏都阿里山国际开发股份有限公司，简称宏都阿里山公司，是台湾一间以旅游为主要业务的公司。",
            "宏都阿里山公司是什么的简称？",
            "宏都阿里山国际开发股份有限公司",
        ),
        # the clause next to the words after the question word, not the gloss before it
        (
            "松平康忠（1546年－1618年9月28日）是日本战国时代至安土桃山时代的武将。",
            "松平康忠是什么时期的武将？",
            "日本战国时代至安土桃山时代",
        ),
        # an occupation from a biography's apposition, without the nationality
        ("杨昊（），中国足球运动员，司职中场。", "杨昊的职业是什么？", "足球运动员"),
        ("牛佬，香港漫画家，原名文启明。", "牛佬的职业是什么？", "漫画家"),
        # the noun after 什么 belongs to the answer when the text says it there
        (
            "长宗我部元亲在领内实行「一领具足」制度，因此集结约7300名士兵。",
            "长宗我部元亲在领内实行什么制度？",
            "「一领具足」制度",
        ),
        ("昌昌为奇穆王国的首都，于850年至1470年间逐渐建成。", "昌昌是什么王国的首都？", "奇穆王国"),
        # a place, without the thing asked about standing there again
        (
            "乌石渔港是位于台湾宜兰县头城镇的观光渔港，列为第一类渔港。",
            "乌石渔港在哪里？",
            "台湾宜兰县头城镇",
        ),
        # a name the question already says, spelt without its dot, is no answer
        ("占士·邦是一个由伊恩·法兰明所创作的虚构人物。", "占士·邦的创造者是谁？", "伊恩·法兰明"),
        # a work asked for by its kind (哪部电影, 什么节目, 诗集叫什么): its title
        (
            "在2013年9月上映的电影《第一次不是你》中，蒋家旻首度担当女主角，更凭此角色获提名。",
            "蒋家旻在哪部电影中首度担当女主角？",
            "《第一次不是你》",
        ),
        (
            "参加综艺节目《奔跑吧兄弟》而走红，因为在节目中担当能力者。",
            "李晨因参加什么综艺节目而走红？",
            "《奔跑吧兄弟》",
        ),
        (
            "1842年出版了第一部诗集《人象石柱》，引起批评者的注意。",
            "庞维勒的第一部诗集叫什么？",
            "《人象石柱》",
        ),
        # what a book is about is no title
        (
            "这部书讲的是曹雪芹在写《红楼梦》之前的经历。",
            "这部书讲的是什么？",
            "曹雪芹在写《红楼梦》之前的经历",
        ),
        # a list answer runs on past its first item
        (
            "戴尔·罗素提出扁掌龙亚科包含两个族：扁掌龙族、倾齿龙族。",
            "戴尔·罗素提出扁掌龙亚科包含哪两个族？",
            "扁掌龙族、倾齿龙族",
        ),
        (
            "蓝帐汗国由两位可汗掌管，一个是嫡传可汗，一个是那海。",
            "蓝帐汗国由哪两位可汗掌管？",
            "一个是嫡传可汗，一个是那海",
        ),
        # the question's 讲 ends inside the text's 讲述: the span starts after the word
        ("这部书讲述了曹雪芹的一生。", "这部书讲了什么？", "曹雪芹的一生"),
        # the question's 靠 ends inside the text's 靠着
        (
            "汉塞克靠着大联盟名单扩编的机会登上大联盟。",
            "汉塞克靠什么机会登上了大联盟？",
            "大联盟名单扩编",
        ),
        # 的一个 is no part of the answer
        (
            "鸟兽脚类（学名：Avetheropoda）是兽脚亚目坚尾龙类的一个演化支，包含肉食龙下目。",
            "鸟兽脚类是什么动物的演化支？",
            "兽脚亚目坚尾龙类",
        ),
    ],
)
def test_what_spans(sentence, question, expected):
    assert span_text(sentence, question) == expected


def test_other_names_are_quoted_with_their_marker():
    from rag.extract import clause_answer

    cases = [
        (
            "软枝黄蝉（学名：'），别称黄莺、小黄蝉、重瓣黄蝉，为夹竹桃科植物。",
            "软枝黄蝉的别名是什么？",
            "别称黄莺、小黄蝉、重瓣黄蝉",
        ),
        # the word asked for first (俗名), though another (又称) comes earlier
        (
            "蓝线裸顶鲷，又称蓝线白𫚭，俗名龙尖，为辐鳍鱼纲的一种。",
            "蓝线裸顶鲷的俗名是什么？",
            "俗名龙尖",
        ),
        ("魏玩，字玉汝，北宋襄阳邓城人。", "魏玩的字是什么？", "字玉汝"),
        (
            "玉山箭竹（学名：），又名玉山矢竹、玉山云竹。",
            "玉山箭竹的又名是什么？",
            "又名玉山矢竹、玉山云竹",
        ),
        # what it lives on or is known for: the text's own 以…为食 / 因…而著名 clause
        (
            "本鱼栖息在岩礁附近，属肉食性，以甲壳类、头足类和小鱼为食。",
            "蓝线裸顶鲷以什么为食？",
            "以甲壳类、头足类和小鱼为食",
        ),
        (
            "杜普洛是一个美国作家，因其系列儿童小说而著名。",
            "杜普洛因什么而著名？",
            "因其系列儿童小说而著名",
        ),
        # 以什么模式 asks for the mode, not the clause
        ("林务局将铁路以BOT模式移交公司经营。", "林务局将铁路以什么模式移交公司经营？", None),
        (
            "龙胆为龙胆科龙胆属的植物，也称为龙胆草、胆草、草龙胆。",
            "龙胆又被称之为什么？",
            "也称为龙胆草、胆草、草龙胆",
        ),
        (
            "富国银行广场（前称西北银行中心），位于明尼亚波利斯。",
            "富国银行广场的前称是什么？",
            "前称西北银行中心",
        ),
        # 什么是X against "Y叫做X": Y
        (
            "棱柱中不在同一平面上的两个顶点的连线叫做棱柱的对角线。",
            "什么是棱柱的对角线？",
            "棱柱中不在同一平面上的两个顶点的连线",
        ),
        # a verb question (也叫什么) is answered by the name alone
        ("内台航路，或称内台航线，是海运航线。", "内台航路也叫什么？", None),
    ]
    for sentence, question, expected in cases:
        sp = clause_answer(sentence, analyze(question))
        assert (sp and sentence[sp[0] : sp[1]]) == expected
