"""The small Japanese world ``seed`` creates when given nothing."""

from __future__ import annotations

from typing import Any


def demo_world() -> dict[str, Any]:
    """Two companies, two contacts and three deals with line items (one in the custom pipeline)."""
    return {
        "companies": [
            {
                "key": "sample",
                "properties": {
                    "name": "株式会社サンプル商事",
                    "domain": "sample-shoji.example.jp",
                    "zip": "100-0005",
                    "state": "東京都",
                    "city": "千代田区",
                    "address": "丸の内1-1-1",
                    "phone": "03-1234-5678",
                    "country": "Japan",
                },
            },
            {
                "key": "kaisha",
                "properties": {
                    "name": "合同会社テスト工房",
                    "zip": "530-0001",
                    "state": "大阪府",
                    "city": "大阪市北区",
                },
            },
        ],
        "contacts": [
            {
                "key": "yamada",
                "properties": {"lastname": "山田", "firstname": "太郎", "email": "taro@example.co.jp"},
            },
            {
                "key": "sato",
                "properties": {"lastname": "佐藤", "firstname": "花子", "email": "hanako@example.co.jp"},
            },
        ],
        "deals": [
            {
                "key": "deal-accounting",
                "properties": {
                    "dealname": "【受注】会計導入支援",
                    "amount": "330000",
                    "closedate": "2026-11-20T03:00:00.000Z",
                    "pipeline": "default",
                    "dealstage": "contractsent",
                    "deal_currency_code": "JPY",
                },
                "company": "sample",
                "contacts": ["yamada"],
                "line_items": [
                    {
                        "properties": {
                            "name": "導入支援",
                            "quantity": "1",
                            "price": "200000",
                            "hs_position_on_quote": "0",
                        }
                    },
                    {
                        "properties": {
                            "name": "クラウド会計ライセンス",
                            "quantity": "10",
                            "price": "10000",
                            "hs_position_on_quote": "1",
                        }
                    },
                ],
            },
            {
                "key": "deal-training",
                "properties": {
                    "dealname": "操作研修",
                    "amount": "55000",
                    "closedate": "2026-11-21T03:00:00.000Z",
                    "pipeline": "87654321",
                    "dealstage": "87654323",
                    "deal_currency_code": "JPY",
                },
                "company": "kaisha",
                "contacts": ["sato"],
                "line_items": [
                    {"properties": {"name": "操作研修（半日）", "quantity": "1", "price": "50000"}}
                ],
            },
            {
                "key": "deal-no-company",
                "properties": {
                    "dealname": "会社未設定の商談",
                    "amount": "10000",
                    "dealstage": "qualifiedtobuy",
                },
                "line_items": [{"properties": {"name": "スポット相談", "quantity": "1", "price": "10000"}}],
            },
        ],
    }
