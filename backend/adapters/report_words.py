"""The daily report's words in English and Simplified Chinese (the dashboard's terms), and
how each locale writes a date, a time and a stretch of time."""
from __future__ import annotations

from datetime import datetime

from backend.domain.alerts import ALERT_TYPES

LOCALES = ("en", "zh-CN")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Daily collateral report", "lender": "Bank", "date": "Day", "as_of": "Book as of",
        "timezone": "Times in", "loans_count": "Loans",
        "totals": "Totals per currency", "loans": "Loans", "status_changes": "Status changes in the day",
        "alerts": "Alerts opened, acknowledged or resolved in the day", "inspections": "Inspections recorded",
        "tasks": "Inspection tasks open", "gaps": "Monitoring gaps (blind periods, sensor faults)",
        "prices": "Price marks used", "none": "None.",
        "col.currency": "Currency", "col.loans": "Loans", "col.outstanding": "Outstanding",
        "col.market_value": "Market value", "col.lending_value": "Lending value",
        "col.drawing_power": "Drawing power", "col.loan": "Loan", "col.borrower": "Borrower",
        "col.status": "Status", "col.ltv": "LTV", "col.thresholds": "Warning / margin call / liquidation",
        "col.target": "Target LTV", "col.cure": "Cure amount and deadline", "col.at": "Time",
        "col.before": "Before", "col.after": "After", "col.opened": "Opened", "col.type": "Type",
        "col.severity": "Severity", "col.subject": "Loan / lot", "col.today": "In the day",
        "col.acknowledged": "Acknowledged", "col.resolved": "Resolved", "col.details": "Details",
        "col.lot": "Lot", "col.items": "Items", "col.quantity": "Quantity", "col.note": "Note",
        "col.reasons": "Reasons", "col.deadline": "Deadline", "col.gateway": "Gateway", "col.from": "From",
        "col.to": "To", "col.duration": "Duration", "col.commodity": "Commodity", "col.price": "Price",
        "col.quoted_at": "Quoted at", "col.source": "Source",
        "change.opened": "opened", "change.acknowledged": "acknowledged", "change.resolved": "resolved",
        "state.open": "open", "state.acknowledged": "acknowledged", "state.resolved": "resolved",
        "state.overdue": "overdue", "ongoing": "ongoing", "stale": "stale", "price_stale": "price stale",
        "closed": "closed", "by": "by", "per": "per",
        "status.normal": "Normal", "status.warning": "Warning", "status.margin_call": "Margin call",
        "status.liquidation": "Liquidation", "status.default": "Default",
        "severity.info": "Info", "severity.warning": "Warning", "severity.critical": "Critical",
        **{f"alert_type.{name}": name.replace("_", " ").capitalize() for name in ALERT_TYPES},
    },
    "zh-CN": {
        "title": "每日押品报告", "lender": "银行", "date": "日期", "as_of": "账面时点", "timezone": "时区",
        "loans_count": "贷款笔数",
        "totals": "按币种合计", "loans": "贷款", "status_changes": "当日状态变化",
        "alerts": "当日新开、确认或解除的告警", "inspections": "已记录的盘点", "tasks": "未完成的盘点任务",
        "gaps": "监控缺口（盲区、传感器故障）", "prices": "所用价格", "none": "无。",
        "col.currency": "币种", "col.loans": "笔数", "col.outstanding": "贷款余额", "col.market_value": "市值",
        "col.lending_value": "质押价值", "col.drawing_power": "可用额度", "col.loan": "贷款",
        "col.borrower": "借款人", "col.status": "状态", "col.ltv": "质押率",
        "col.thresholds": "预警 / 追加保证金 / 平仓", "col.target": "目标质押率", "col.cure": "补足金额与期限",
        "col.at": "时间", "col.before": "变化前", "col.after": "变化后", "col.opened": "发生时间",
        "col.type": "类型", "col.severity": "级别", "col.subject": "贷款 / 货位", "col.today": "当日",
        "col.acknowledged": "确认", "col.resolved": "解除", "col.details": "详情", "col.lot": "货位",
        "col.items": "件数", "col.quantity": "数量", "col.note": "备注", "col.reasons": "原因",
        "col.deadline": "期限", "col.gateway": "网关", "col.from": "开始", "col.to": "结束",
        "col.duration": "时长", "col.commodity": "商品", "col.price": "价格", "col.quoted_at": "报价时间",
        "col.source": "来源",
        "change.opened": "新开", "change.acknowledged": "确认", "change.resolved": "解除",
        "state.open": "未处理", "state.acknowledged": "已确认", "state.resolved": "已解除", "state.overdue": "已逾期",
        "ongoing": "持续中", "stale": "过期", "price_stale": "价格过期", "closed": "已结清", "by": "经办", "per": "每",
        "status.normal": "正常", "status.warning": "预警", "status.margin_call": "追加保证金",
        "status.liquidation": "平仓", "status.default": "违约",
        "severity.info": "提示", "severity.warning": "警告", "severity.critical": "严重",
        "alert_type.stock_shortfall": "库存短缺", "alert_type.unauthorized_removal": "未经授权出库",
        "alert_type.weight_count_mismatch": "重量与件数不符", "alert_type.double_pledge_attempt": "重复质押企图",
        "alert_type.tag_conflict": "标签冲突", "alert_type.ltv_warning": "质押率预警",
        "alert_type.margin_call": "追加保证金", "alert_type.liquidation": "平仓",
        "alert_type.ltv_cured": "质押率已恢复", "alert_type.price_stale": "价格过期",
        "alert_type.price_outlier": "价格异常", "alert_type.temperature_excursion": "温度超限",
        "alert_type.sensor_fault": "传感器故障", "alert_type.gateway_offline": "网关离线",
        "alert_type.monitoring_blind": "监控盲区", "alert_type.tamper_detected": "检测到篡改",
        "alert_type.clock_skew": "时钟偏差", "alert_type.collateral_unverified": "押品未核实",
    },
}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def word(locale: str, key: str) -> str:
    """The locale's word; a key it lacks (a newer status or alert type) reads as itself."""
    return WORDS[locale].get(key, key)


def local_time(locale: str, moment: datetime) -> str:
    """12 Mar 2026 18:05 (en) or 2026年3月12日 18:05 (zh-CN)."""
    if locale == "zh-CN":
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
    return f"{moment.day} {_MONTHS_EN[moment.month - 1]} {moment.year} {moment:%H:%M}"


def local_date(locale: str, moment: datetime) -> str:
    if locale == "zh-CN":
        return f"{moment.year}年{moment.month}月{moment.day}日"
    return f"{moment.day} {_MONTHS_EN[moment.month - 1]} {moment.year}"


def duration(locale: str, seconds: float) -> str:
    """3 h 05 min (en), 3小时05分 (zh-CN); under a minute counts as 0 min."""
    hours, minutes = divmod(int(seconds) // 60, 60)
    if locale == "zh-CN":
        return f"{hours}小时{minutes:02d}分" if hours else f"{minutes}分"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
