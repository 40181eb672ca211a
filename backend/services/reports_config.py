"""Settings of the daily collateral report (`reports:` in the backend config, docs/reports.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator


class LenderReportSettings(BaseModel):
    model_config = {"extra": "forbid"}
    locale: Literal["en", "zh-CN"] = "en"  # the report's words and date format
    timezone: str = "UTC"  # an IANA zone: where the bank's day starts and ends, and the report's clock
    email_to: list[str] = Field(default_factory=list)  # the PDF by e-mail too (webhooks.email's SMTP server)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from exc
        return name


class ReportSettings(BaseModel):
    model_config = {"extra": "forbid"}
    daily: bool = True  # make and send each lender's report every day (the monitor role's process)
    daily_at: str = Field("18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM in each lender's time zone
    defaults: LenderReportSettings = LenderReportSettings()  # for lenders not named under `lenders`
    lenders: dict[str, LenderReportSettings] = Field(default_factory=dict)
    # TrueType fonts of the PDF (Debian: fonts-dejavu-core, fonts-wqy-microhei); the CJK one for zh-CN.
    pdf_font: Path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    pdf_font_cjk: Path = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

    def of(self, lender: str) -> LenderReportSettings:
        return self.lenders.get(lender, self.defaults)

    def daily_at_s(self) -> int:
        """Seconds after the lender's midnight when the day's report is made."""
        hours, minutes = self.daily_at.split(":")
        return int(hours) * 3600 + int(minutes) * 60

    def locales(self) -> set[str]:
        return {self.defaults.locale, *(entry.locale for entry in self.lenders.values())}
