"""Sample staff, topics and releases, written for Newsroom in the ministry's house format
(numbered paragraphs with sub-points), loaded through the ordinary service functions."""

from __future__ import annotations

from datetime import timedelta

from workflow.domain.users import CONSOLE
from workflow.domain.values import Contact
from workflow.services import people, releases
from workflow.services.context import ServiceContext

STAFF = [
    ("officer@newsroom.example", "Kim Min-ji", ["press_officer"], "ko"),
    ("approver@newsroom.example", "Lee Jun-ho", ["approver"], "ko"),
    ("director@newsroom.example", "Park Seo-yeon", ["approver"], "en"),
    ("translator@newsroom.example", "Choi Ha-eun", ["translator"], "en"),
    ("admin@newsroom.example", "Jung Do-hyun", ["admin"], "ko"),
]
TOPICS = {
    "Global Health": "국제보건",
    "Korean Peninsula": "한반도",
    "Consular Affairs": "영사",
    "Climate and Energy": "기후·에너지",
}

HEALTH_KO = """\
1. 외교부는 11월 20일 서울에서 국제보건 전문가들과 함께 감염병 대응 협력 강화를 위한 회의를 개최하였다.

   - 회의에는 보건 분야 국제기구 관계자와 국내 연구기관 전문가 등 20여 명이 참석하였다.
   - 참석자들은 조기 경보 체계와 백신 공급망에 대한 의견을 교환하였다.

2. 참석자들은 감염병이 안보의 문제라는 데 공감하고, 정보 공유와 투명성 제고의 중요성을 강조하였다.

   - 외교부는 앞으로도 국제사회와 긴밀히 협력해 나갈 예정이다.
"""

HEALTH_EN = """\
1. On 20 November, the Ministry of Foreign Affairs hosted a meeting in Seoul with global health experts on strengthening cooperation against infectious diseases.

   - Some twenty participants attended, from international health organisations and Korean research institutes.
   - Participants exchanged views on early warning systems and vaccine supply chains.

2. The participants agreed that infectious diseases are a matter of security and stressed the importance of sharing information and of transparency.

   - The Ministry will continue to work closely with the international community.
"""

CONSULAR_EN = """\
1. The Ministry of Foreign Affairs advises nationals travelling abroad over the year-end holidays to register their itinerary with the consular service.

   - Registration lets embassies reach travellers quickly in an emergency.
   - The 24-hour consular call centre remains available throughout the holidays.

2. Travellers are reminded to check the travel advisory level of their destination before departure.
"""

PENINSULA_KO = """\
1. 외교부 대변인은 한반도 평화 정착을 위한 국제사회의 지지에 사의를 표하였다.

   - 정부는 관련국들과의 대화를 지속해 나갈 것이다.
"""


def load_demo(ctx: ServiceContext) -> str:
    """Load the sample data once; a second run finds it there and changes nothing."""
    with ctx.uow() as uow:
        if uow.users.by_email(STAFF[0][0]) is not None:
            return "demo data already loaded"
    ids = {
        email: people.add_user(ctx, CONSOLE.id, email=email, name=name, roles=roles, language=lang)
        for email, name, roles, lang in STAFF
    }
    topic = {name: people.add_topic(ctx, CONSOLE.id, name, ko) for name, ko in TOPICS.items()}
    officer, approver = ids[STAFF[0][0]], ids[STAFF[1][0]]
    translator = ids[STAFF[3][0]]
    contact = Contact.checked("Kim Min-ji", "+82-2-2100-7000", "press@newsroom.example")

    health = releases.create_release(
        ctx,
        officer,
        language="ko",
        title="국제보건 협력 강화를 위한 전문가 회의 개최",
        body=HEALTH_KO,
        topics=[topic["Global Health"]],
        contact=contact,
    ).release_id
    request = releases.request_translation(
        ctx, officer, health, target_language="en", translator_id=translator
    )
    releases.submit_translation(
        ctx,
        translator,
        request,
        title="Experts Meet on Strengthening Global Health Cooperation",
        body=HEALTH_EN,
        base_revision=0,
    )
    releases.submit_release(ctx, officer, health)
    releases.approve_release(ctx, approver, health)
    releases.publish_release(ctx, officer, health)

    consular = releases.create_release(
        ctx,
        officer,
        language="en",
        title="Year-end Travel: Register Your Itinerary",
        body=CONSULAR_EN,
        topics=[topic["Consular Affairs"]],
        contact=contact,
    ).release_id
    releases.submit_release(ctx, officer, consular)
    releases.approve_release(ctx, approver, consular)
    releases.schedule_release(
        ctx, officer, consular, publish_at=ctx.clock.now() + timedelta(days=1)
    )

    peninsula = releases.create_release(
        ctx,
        officer,
        language="ko",
        title="한반도 평화에 대한 국제사회 지지에 사의 표명",
        body=PENINSULA_KO,
        topics=[topic["Korean Peninsula"]],
        contact=contact,
    ).release_id
    releases.submit_release(ctx, officer, peninsula)

    return (
        f"demo data loaded: {len(STAFF)} staff, {len(TOPICS)} topics, 3 releases "
        "(one published in Korean and English, one scheduled, one in review)"
    )
