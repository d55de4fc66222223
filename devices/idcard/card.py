"""The card's 256-byte text block (UCS-2 little-endian, space-padded) and the card value objects.

Resident ID card (居民身份证) layout, byte lengths: name 30 · sex 2 · nation 4 · birth date 16 · address 70 ·
ID number 36 · issuing authority 30 · valid from 16 · valid to 16 · reserved 36.
Byte 248 (inside "reserved") tells other cards that share the reader protocol apart: ``I`` = foreign
permanent-resident card (外国人永久居留身份证), ``J`` = Hong Kong/Macao/Taiwan residence permit (港澳台居民居住证).

Personal data never leaves these objects through ``repr``/``str``: both mask the name and the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from devices.contract.privacy import id_check_char, mask_id, mask_name
from devices.idcard.codec import TEXT_SIZE
from devices.idcard.errors import CardDataError

LONG_TERM = "长期"

# GB 3304 nation codes as printed on the card (汉, not 汉族).
NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝", "08": "壮",
    "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家", "16": "哈尼",
    "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
    "25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土", "31": "达斡尔",
    "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌",
    "40": "普米", "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春", "53": "赫哲",
    "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}  # fmt: skip
NATION_CODES: dict[str, str] = {name: code for code, name in NATIONS.items()}


class Sex(Enum):
    """GB/T 2261.1 sex codes as stored on the card."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSTATED = "9"

    @property
    def label(self) -> str:
        return {"0": "未知", "1": "男", "2": "女", "9": "未说明"}[self.value]


class CardType(Enum):
    RESIDENT = "resident"  # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证 (type J)
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"  # 外国人永久居留身份证 (type I)


def validate_id_number(number: str) -> str:
    """Return ``number`` if it is 17 digits and a correct check character; raise CardDataError saying what is wrong."""
    masked = mask_id(number)
    if len(number) != 18:
        raise CardDataError(f"ID number {masked} has {len(number)} characters; it must have 18")
    if not (number[:17].isascii() and number[:17].isdigit()) or number[17] not in "0123456789X":
        raise CardDataError(f"ID number {masked} must be 17 digits and a digit or X")
    expected = id_check_char(number[:17])
    if number[17] != expected:
        raise CardDataError(
            f"ID number {masked} fails its GB 11643 check: the last character should be {expected}"
        )
    return number


def _parse_date(text: str, what: str) -> date:
    # The value is not quoted: a birth date is personal data, and these messages reach logs.
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise CardDataError(f"{what} is not a YYYYMMDD date ({len(text)} characters)")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise CardDataError(f"{what} is not a real date: {exc}") from None


def _format_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def _field(block: bytes, start: int, size: int, what: str) -> str:
    try:
        text = block[start : start + size].decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError(f"{what} is not valid UCS-2 text") from None
    return text.rstrip(" \x00").lstrip(" ")


def _put(text: str, size: int, what: str) -> bytes:
    raw = text.encode("utf-16-le")
    if len(raw) > size:
        raise CardDataError(f"{what} is {len(raw) // 2} characters; the card holds at most {size // 2}")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def _masked_photo(photo: bytes) -> str:
    return f"<{len(photo)} bytes>"


@dataclass(frozen=True, repr=False)
class IdCard:
    """A resident ID card (or a Hong Kong/Macao/Taiwan residence permit, which shares its layout)."""

    name: str
    sex: Sex
    nation_code: str  # "01".."56", "97", "98"; "" on a residence permit
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None  # None = 长期 (long-term)
    photo: bytes = field(default=b"", compare=False)
    fingerprint: bytes = field(default=b"", compare=False)
    card_type: CardType = CardType.RESIDENT
    pass_number: str = ""  # residence permits only: the 通行证 number
    issue_count: int | None = None  # residence permits only

    @property
    def nation(self) -> str:
        return NATIONS.get(self.nation_code, "")

    @property
    def validity(self) -> str:
        """``20100305-长期`` or ``20220615-20320615``, as printed on the card."""
        end = _format_date(self.valid_to) if self.valid_to else LONG_TERM
        return f"{_format_date(self.valid_from)}-{end}"

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id(self.id_number)

    def validate(self) -> IdCard:
        """Check the number, its agreement with birth date and sex, the nation code and the validity period."""
        validate_id_number(self.id_number)
        if self.id_number[6:14] != _format_date(self.birth_date):
            raise CardDataError(f"ID number {self.masked_id_number} does not carry the card's birth date")
        parity_sex = Sex.MALE if int(self.id_number[16]) % 2 else Sex.FEMALE
        if self.sex in (Sex.MALE, Sex.FEMALE) and self.sex is not parity_sex:
            raise CardDataError(
                f"ID number {self.masked_id_number} is a {parity_sex.label} number, card says {self.sex.label}"
            )
        if self.card_type is CardType.RESIDENT and self.nation_code not in NATIONS:
            raise CardDataError(f"nation code {self.nation_code!r} is not a GB 3304 code (01..56, 97, 98)")
        if not self.name:
            raise CardDataError("the name field is empty")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise CardDataError(f"validity {self.validity} ends before it starts")
        return self

    def as_dict(self) -> dict[str, Any]:
        """Every field in clear, for the server only (never log this)."""
        return {
            "card_type": self.card_type.value,
            "name": self.name,
            "sex": self.sex.label,
            "nation": self.nation,
            "nation_code": self.nation_code,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": self.id_number,
            "authority": self.authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else LONG_TERM,
            "pass_number": self.pass_number,
            "issue_count": self.issue_count,
        }

    def __repr__(self) -> str:
        return (
            f"IdCard({self.card_type.value}, name={self.masked_name!r}, id_number={self.masked_id_number!r}, "
            f"photo={_masked_photo(self.photo)})"
        )

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class ForeignResidentCard:
    """A foreign permanent-resident ID card (外国人永久居留身份证, 2017 layout; field sizes per vendors' notes).

    Layout, byte lengths: English name 120 · sex 2 · card number 30 · nationality (ISO 3166-1 alpha-3) 6 ·
    Chinese name 30 · valid from 16 · valid to 16 · birth date 16 · card version 4 · authority code 8 ·
    card type 2 (``I``) · reserved 6.
    """

    english_name: str
    chinese_name: str
    sex: Sex
    card_number: str
    nationality: str
    birth_date: date
    valid_from: date
    valid_to: date | None
    card_version: str = ""
    authority_code: str = ""
    photo: bytes = field(default=b"", compare=False)
    fingerprint: bytes = field(default=b"", compare=False)
    card_type: CardType = CardType.FOREIGN_PERMANENT_RESIDENT

    @property
    def name(self) -> str:
        return self.chinese_name or self.english_name

    @property
    def id_number(self) -> str:
        return self.card_number

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id(self.card_number)

    def validate(self) -> ForeignResidentCard:
        number = self.card_number
        masked = self.masked_id_number
        if len(number) == 15:
            # 2017 numbers: nationality letters, then digits.
            if not (number[:3].isascii() and number[:3].isalpha() and number[3:].isdigit()):
                raise CardDataError(f"card number {masked} must be 3 letters and 12 digits")
        elif len(number) == 18:
            validate_id_number(number)  # 2023 numbers start with 9 and use the GB 11643 check character
        else:
            raise CardDataError(f"card number {masked} has {len(number)} characters; expected 15 or 18")
        if not (len(self.nationality) == 3 and self.nationality.isascii() and self.nationality.isalpha()):
            raise CardDataError(f"nationality {self.nationality!r} is not an ISO 3166-1 alpha-3 code")
        if not self.english_name:
            raise CardDataError("the English name field is empty")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise CardDataError("the validity period ends before it starts")
        return self

    def as_dict(self) -> dict[str, Any]:
        """Every field in clear, for the server only (never log this)."""
        return {
            "card_type": self.card_type.value,
            "name": self.name,
            "english_name": self.english_name,
            "chinese_name": self.chinese_name,
            "sex": self.sex.label,
            "id_number": self.card_number,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat(),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else LONG_TERM,
            "card_version": self.card_version,
            "authority_code": self.authority_code,
        }

    def __repr__(self) -> str:
        return (
            f"ForeignResidentCard(name={self.masked_name!r}, english_name={mask_name(self.english_name)!r}, "
            f"card_number={self.masked_id_number!r}, photo={_masked_photo(self.photo)})"
        )

    __str__ = __repr__


Card = IdCard | ForeignResidentCard


_TYPE_OFFSET = 248


def card_type_of(block: bytes) -> CardType:
    """Which layout a text block uses, from the character at byte 248."""
    if len(block) != TEXT_SIZE:
        raise CardDataError(f"a text block is {TEXT_SIZE} bytes, got {len(block)}")
    marker = block[_TYPE_OFFSET : _TYPE_OFFSET + 2]
    if marker == "I".encode("utf-16-le"):
        return CardType.FOREIGN_PERMANENT_RESIDENT
    if marker == "J".encode("utf-16-le"):
        return CardType.HMT_RESIDENCE_PERMIT
    return CardType.RESIDENT


def _valid_to(text: str) -> date | None:
    if text == LONG_TERM:
        return None
    return _parse_date(text, "valid-to date")


def _sex(text: str) -> Sex:
    try:
        return Sex(text)
    except ValueError:
        raise CardDataError(f"sex code {text!r} is not one of 0, 1, 2, 9") from None


def decode_text_block(block: bytes, photo: bytes = b"", fingerprint: bytes = b"") -> Card:
    """Decode and validate a 256-byte text block; raises CardDataError naming the field that is wrong."""
    kind = card_type_of(block)
    if kind is CardType.FOREIGN_PERMANENT_RESIDENT:
        return ForeignResidentCard(
            english_name=_field(block, 0, 120, "English name"),
            sex=_sex(_field(block, 120, 2, "sex")),
            card_number=_field(block, 122, 30, "card number"),
            nationality=_field(block, 152, 6, "nationality"),
            chinese_name=_field(block, 158, 30, "Chinese name"),
            valid_from=_parse_date(_field(block, 188, 16, "valid-from"), "valid-from date"),
            valid_to=_valid_to(_field(block, 204, 16, "valid-to")),
            birth_date=_parse_date(_field(block, 220, 16, "birth date"), "birth date"),
            card_version=_field(block, 236, 4, "card version"),
            authority_code=_field(block, 240, 8, "authority code"),
            photo=photo,
            fingerprint=fingerprint,
        ).validate()
    extra: dict[str, Any] = {}
    if kind is CardType.HMT_RESIDENCE_PERMIT:
        count = _field(block, 238, 4, "issue count")
        extra = {
            "pass_number": _field(block, 220, 18, "pass number"),
            "issue_count": int(count) if count.isascii() and count.isdigit() else None,
        }
    return IdCard(
        name=_field(block, 0, 30, "name"),
        sex=_sex(_field(block, 30, 2, "sex")),
        nation_code=_field(block, 32, 4, "nation"),
        birth_date=_parse_date(_field(block, 36, 16, "birth date"), "birth date"),
        address=_field(block, 52, 70, "address"),
        id_number=_field(block, 122, 36, "ID number"),
        authority=_field(block, 158, 30, "issuing authority"),
        valid_from=_parse_date(_field(block, 188, 16, "valid-from"), "valid-from date"),
        valid_to=_valid_to(_field(block, 204, 16, "valid-to")),
        photo=photo,
        fingerprint=fingerprint,
        card_type=kind,
        **extra,
    ).validate()


def encode_text_block(card: Card) -> bytes:
    """The 256-byte block a reader would return for ``card`` (for the simulator and tests)."""
    end = _format_date(card.valid_to) if card.valid_to else LONG_TERM
    if isinstance(card, ForeignResidentCard):
        parts = [
            _put(card.english_name, 120, "English name"),
            _put(card.sex.value, 2, "sex"),
            _put(card.card_number, 30, "card number"),
            _put(card.nationality, 6, "nationality"),
            _put(card.chinese_name, 30, "Chinese name"),
            _put(_format_date(card.valid_from), 16, "valid-from"),
            _put(end, 16, "valid-to"),
            _put(_format_date(card.birth_date), 16, "birth date"),
            _put(card.card_version, 4, "card version"),
            _put(card.authority_code, 8, "authority code"),
            _put("I", 2, "card type"),
            _put("", 6, "reserved"),
        ]
    else:
        if card.card_type is CardType.HMT_RESIDENCE_PERMIT:
            count = "" if card.issue_count is None else f"{card.issue_count:02d}"
            tail = [
                _put(card.pass_number, 18, "pass number"),
                _put(count, 4, "issue count"),
                _put("", 6, "reserved"),
                _put("J", 2, "card type"),
                _put("", 6, "reserved"),
            ]
        else:
            tail = [_put("", 36, "reserved")]
        parts = [
            _put(card.name, 30, "name"),
            _put(card.sex.value, 2, "sex"),
            _put(card.nation_code, 4, "nation"),
            _put(_format_date(card.birth_date), 16, "birth date"),
            _put(card.address, 70, "address"),
            _put(card.id_number, 36, "ID number"),
            _put(card.authority, 30, "issuing authority"),
            _put(_format_date(card.valid_from), 16, "valid-from"),
            _put(end, 16, "valid-to"),
            *tail,
        ]
    block = b"".join(parts)
    assert len(block) == TEXT_SIZE, len(block)  # the layouts above add up to 256 by construction
    return block
