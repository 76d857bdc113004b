"""Dictionaries: provinces (GB/T 2260 codes with abbreviations) and the ten specialties."""
from sqlalchemy import Boolean, Column, Integer, String

from models.base import Model, localized


class Province(Model):
    __tablename__ = "province"

    code = Column(String(2), primary_key=True)  # GB/T 2260 two-digit code, e.g. "11"
    name = Column(String(20), nullable=False)
    name_en = Column(String(40))
    abbr = Column(String(2), nullable=False)  # 京, 沪, ...

    def __str__(self):
        return localized(self.name, self.name_en)


class Specialty(Model):
    __tablename__ = "specialty"

    code = Column(String(20), primary_key=True)
    name = Column(String(20), nullable=False, unique=True)
    name_en = Column(String(60))
    # Six specialties also need the industry ministry's opinion (DOMAIN.md; an optional stage).
    needs_industry_opinion = Column(Boolean, nullable=False, default=False)
    sort_order = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return localized(self.name, self.name_en)


# Reference data loaded by `flask setup` (and the initial migration's tests).
PROVINCES = [
    ("11", "北京市", "Beijing", "京"), ("12", "天津市", "Tianjin", "津"), ("13", "河北省", "Hebei", "冀"),
    ("14", "山西省", "Shanxi", "晋"), ("15", "内蒙古自治区", "Inner Mongolia", "蒙"),
    ("21", "辽宁省", "Liaoning", "辽"), ("22", "吉林省", "Jilin", "吉"), ("23", "黑龙江省", "Heilongjiang", "黑"),
    ("31", "上海市", "Shanghai", "沪"), ("32", "江苏省", "Jiangsu", "苏"), ("33", "浙江省", "Zhejiang", "浙"),
    ("34", "安徽省", "Anhui", "皖"), ("35", "福建省", "Fujian", "闽"), ("36", "江西省", "Jiangxi", "赣"),
    ("37", "山东省", "Shandong", "鲁"), ("41", "河南省", "Henan", "豫"), ("42", "湖北省", "Hubei", "鄂"),
    ("43", "湖南省", "Hunan", "湘"), ("44", "广东省", "Guangdong", "粤"),
    ("45", "广西壮族自治区", "Guangxi", "桂"), ("46", "海南省", "Hainan", "琼"), ("50", "重庆市", "Chongqing", "渝"),
    ("51", "四川省", "Sichuan", "川"), ("52", "贵州省", "Guizhou", "贵"), ("53", "云南省", "Yunnan", "云"),
    ("54", "西藏自治区", "Tibet", "藏"), ("61", "陕西省", "Shaanxi", "陕"), ("62", "甘肃省", "Gansu", "甘"),
    ("63", "青海省", "Qinghai", "青"), ("64", "宁夏回族自治区", "Ningxia", "宁"),
    ("65", "新疆维吾尔自治区", "Xinjiang", "新"),
]
PROVINCE_CODES = frozenset(code for code, *_ in PROVINCES)

SPECIALTIES = [
    # code, name, English name, needs the industry ministry's opinion
    ("building", "建筑工程", "Building Construction", False),
    ("highway", "公路工程", "Highway Engineering", True),
    ("railway", "铁路工程", "Railway Engineering", True),
    ("airport", "民航机场工程", "Civil Airport Engineering", True),
    ("port", "港口与航道工程", "Port and Waterway Engineering", True),
    ("water", "水利水电工程", "Water Conservancy and Hydropower", True),
    ("municipal", "市政公用工程", "Municipal Public Works", False),
    ("telecom", "通信与广电工程", "Telecommunications and Broadcasting", True),
    ("mining", "矿业工程", "Mining Engineering", False),
    ("mechanical", "机电工程", "Mechanical and Electrical Engineering", False),
]
