"""Every Switchboard topic, its key rule, its events and who reads it: the one list (DESIGN.md §4)."""

from __future__ import annotations

from switchboard.contracts import acw, email, gateway, messaging, routing, voice
from switchboard.contracts.registry import DAY_MS, EventSpec, Registry, TopicSpec

HOUR_MS = 3600 * 1000

SERVICES: tuple[str, ...] = ("gateway", "routing", "messaging", "voice", "email", "acw")

ROUTING_AGENTS = "switchboard.routing.agents.v1"
ROUTING_INTERACTIONS = "switchboard.routing.interactions.v1"
MESSAGING_CONVERSATIONS = "switchboard.messaging.conversations.v1"
MESSAGING_MESSAGES = "switchboard.messaging.messages.v1"
MESSAGING_TYPING = "switchboard.messaging.typing.v1"
ACW_INTERACTIONS = "switchboard.acw.interactions.v1"
VOICE_CALLS = "switchboard.voice.calls.v1"
EMAIL_MESSAGES = "switchboard.email.messages.v1"
GATEWAY_PRESENCE = "switchboard.gateway.presence.v1"

INTERACTION_KEY = "interaction_id of the payload, so every event about one interaction stays in order"
AGENT_KEY = "agent_id of the payload, so every event about one agent stays in order"

_ROUTING_AGENTS = TopicSpec(
    name=ROUTING_AGENTS,
    owner="routing",
    description="Agent sessions and routing status.",
    key=AGENT_KEY,
    consumers=("gateway",),
    # Workforce-management systems rebuild status timelines from this, so it outlives the default.
    retention_ms=30 * DAY_MS,
    events=(
        EventSpec("agent.status.changed", 1, routing.AgentStatusChanged, "An agent's status changed."),
        EventSpec("agent.logged_in", 1, routing.AgentLoggedIn, "An agent logged in."),
        EventSpec("agent.logged_out", 1, routing.AgentLoggedOut, "An agent logged out or was logged out."),
    ),
)

_ROUTING_INTERACTIONS = TopicSpec(
    name=ROUTING_INTERACTIONS,
    owner="routing",
    description="Queueing, offers, assignment, transfers, snooze and capacity slots of interactions.",
    key=INTERACTION_KEY,
    consumers=("gateway", "messaging", "voice", "email", "acw"),
    events=(
        EventSpec("interaction.queued", 1, routing.InteractionQueued, "An interaction entered a queue."),
        EventSpec(
            "interaction.offered", 1, routing.InteractionOffered, "An interaction was offered to an agent."
        ),
        EventSpec("interaction.assigned", 1, routing.InteractionAssigned, "An agent holds the interaction."),
        EventSpec(
            "interaction.offer_timed_out",
            1,
            routing.InteractionOfferTimedOut,
            "An offer was not accepted in time.",
        ),
        EventSpec(
            "interaction.requeued", 1, routing.InteractionRequeued, "An interaction went back to a queue."
        ),
        EventSpec(
            "interaction.no_agents_available",
            1,
            routing.InteractionNoAgentsAvailable,
            "The queue's maximum wait passed with no matching agent.",
        ),
        EventSpec(
            "interaction.transfer_requested",
            1,
            routing.InteractionTransferRequested,
            "An agent asked to transfer an interaction.",
        ),
        EventSpec("interaction.transferred", 1, routing.InteractionTransferred, "A transfer completed."),
        EventSpec(
            "interaction.transfer_dropped", 1, routing.InteractionTransferDropped, "A transfer was abandoned."
        ),
        EventSpec("interaction.snoozed", 1, routing.InteractionSnoozed, "An interaction was snoozed."),
        EventSpec("interaction.unsnoozed", 1, routing.InteractionUnsnoozed, "A snoozed interaction woke up."),
        EventSpec("slot.released", 1, routing.SlotReleased, "An agent's capacity slot became free."),
        EventSpec(
            "interaction.offer_withdrawn",
            1,
            routing.InteractionOfferWithdrawn,
            "A pending offer was taken back.",
        ),
        EventSpec(
            "interaction.skills_changed",
            1,
            routing.InteractionSkillsChanged,
            "The skills of a live interaction changed.",
        ),
        EventSpec(
            "interaction.first_reply_sent",
            1,
            routing.InteractionFirstReplySent,
            "The assigned agent sent their first message.",
        ),
        EventSpec(
            "interaction.external_transfer_requested",
            1,
            routing.InteractionExternalTransferRequested,
            "An agent asked for a blind transfer of a call to an external contact.",
        ),
    ),
)

_MESSAGING_CONVERSATIONS = TopicSpec(
    name=MESSAGING_CONVERSATIONS,
    owner="messaging",
    description="Chat conversations starting and ending.",
    key=INTERACTION_KEY,
    consumers=("routing", "acw", "gateway"),
    events=(
        EventSpec(
            "conversation.started",
            1,
            messaging.ConversationStarted,
            "A customer asked for a live agent in chat.",
        ),
        EventSpec("conversation.ended", 1, messaging.ConversationEnded, "A chat conversation ended."),
    ),
)

_MESSAGING_MESSAGES = TopicSpec(
    name=MESSAGING_MESSAGES,
    owner="messaging",
    description="Chat messages and their delivery, read and sentiment states.",
    key=INTERACTION_KEY,
    consumers=("gateway", "routing", "acw"),
    events=(
        EventSpec(
            "chat.message.sent", 1, messaging.ChatMessageSent, "A chat message was accepted and stored."
        ),
        EventSpec(
            "chat.message.delivered", 1, messaging.ChatMessageDelivered, "A chat message was delivered."
        ),
        EventSpec(
            "chat.message.not_delivered",
            1,
            messaging.ChatMessageNotDelivered,
            "A chat message could not be delivered.",
        ),
        EventSpec("chat.message.read", 1, messaging.ChatMessageRead, "Chat messages were read."),
        EventSpec(
            "chat.message.sentiment_scored",
            1,
            messaging.ChatMessageSentimentScored,
            "A customer chat message was scored for sentiment.",
        ),
        EventSpec(
            "chat.reaction.changed",
            1,
            messaging.ChatReactionChanged,
            "An emoji reaction on a chat message was added or taken back.",
        ),
        EventSpec(
            "chat.form.requested", 1, messaging.ChatFormRequested, "An agent sent the customer a secure form."
        ),
        EventSpec(
            "chat.form.submitted",
            1,
            messaging.ChatFormSubmitted,
            "A customer submitted a secure form (answers are never published).",
        ),
    ),
)

_MESSAGING_TYPING = TopicSpec(
    name=MESSAGING_TYPING,
    owner="messaging",
    description="Typing indicators. Ephemeral: consumers show them and never store them.",
    key=INTERACTION_KEY,
    consumers=("gateway",),
    retention_ms=HOUR_MS,
    ephemeral=True,
    events=(EventSpec("chat.typing", 1, messaging.ChatTyping, "Someone is typing in a chat."),),
)

_ACW_INTERACTIONS = TopicSpec(
    name=ACW_INTERACTIONS,
    owner="acw",
    description="Ending interactions, after-call work, dispositions and notes.",
    key=INTERACTION_KEY,
    consumers=("routing", "messaging", "voice", "email", "gateway"),
    # Dispositions feed reporting and QA, which may replay a month.
    retention_ms=30 * DAY_MS,
    events=(
        EventSpec(
            "interaction.end_requested",
            1,
            acw.InteractionEndRequested,
            "An agent confirmed ending an interaction.",
        ),
        EventSpec("interaction.ended", 1, acw.InteractionEnded, "An interaction ended."),
        EventSpec("acw.started", 1, acw.AcwStarted, "After-call work began."),
        EventSpec("acw.expired", 1, acw.AcwExpired, "The timed after-call-work deadline passed."),
        EventSpec(
            "interaction.closed", 1, acw.InteractionClosed, "An interaction was closed with its disposition."
        ),
        EventSpec("note.added", 1, acw.NoteAdded, "A note was added to an interaction."),
        EventSpec("note.edited", 1, acw.NoteEdited, "The author edited a note."),
    ),
)

_VOICE_CALLS = TopicSpec(
    name=VOICE_CALLS,
    owner="voice",
    description="Calls and voicemail.",
    key=INTERACTION_KEY,
    consumers=("routing", "acw", "gateway"),
    events=(
        EventSpec("call.started", 1, voice.CallStarted, "A call connected."),
        EventSpec("call.ended", 1, voice.CallEnded, "A call ended."),
        EventSpec("voicemail.received", 1, voice.VoicemailReceived, "A customer left a voicemail."),
    ),
)

_EMAIL_MESSAGES = TopicSpec(
    name=EMAIL_MESSAGES,
    owner="email",
    description="Emails received from and sent to customers. Never carries BCC recipients.",
    key=INTERACTION_KEY,
    consumers=("routing", "gateway"),
    events=(
        EventSpec("email.received", 1, email.EmailReceived, "A customer's email arrived."),
        EventSpec("email.sent", 1, email.EmailSent, "An agent's email was sent."),
    ),
)

_GATEWAY_PRESENCE = TopicSpec(
    name=GATEWAY_PRESENCE,
    owner="gateway",
    description="Console presence of agents, for the inactivity threshold.",
    key=AGENT_KEY,
    consumers=("routing",),
    # Presence is only useful while fresh; a replayed hour-old heartbeat would be a lie.
    retention_ms=HOUR_MS,
    events=(
        EventSpec("presence.heartbeat", 1, gateway.PresenceHeartbeat, "An agent's console is alive."),
        EventSpec("presence.disconnected", 1, gateway.PresenceDisconnected, "An agent's console went away."),
    ),
)

REGISTRY = Registry(
    (
        _ROUTING_AGENTS,
        _ROUTING_INTERACTIONS,
        _MESSAGING_CONVERSATIONS,
        _MESSAGING_MESSAGES,
        _MESSAGING_TYPING,
        _ACW_INTERACTIONS,
        _VOICE_CALLS,
        _EMAIL_MESSAGES,
        _GATEWAY_PRESENCE,
    )
)
