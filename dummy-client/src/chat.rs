//! Chat lines that can be checked: every line names its sender and its number in its own
//! text, mixed with Korean and an emoji so that a server that mangles UTF-16 (surrogate
//! pairs, the byte length) is caught, and every receiver checks each sender's lines arrive
//! intact, once, in order, with none missing.
//!
//! A line is `봇 {index} 채팅 {seq} 🎮 안녕하세요`: `index` the sending bot, `seq` its chat
//! number from 1 (carried on across its rejoins). A receiver regenerates the text from the
//! two numbers it reads and compares it whole, so any changed code unit is a corrupt line.
//! Per sender it keeps the first and last number seen ([`ChatSeqs`]): a jump is a lost line
//! (the room broadcast the lines between to everyone in it while the receiver was in it), a
//! repeat or step back a duplicate. At the end ([`ChatAccounting::compute`]) a receiver that
//! was in the room for the whole window is also owed, from every sender, every line from the
//! sender's first window line to the last one the sender saw echoed: missing ones at either
//! end are lost too. Receivers that churned are checked for corruption, gaps and repeats only.
//! A corrupt line counts twice: as corrupt, and as lost, since the line as sent never came.

use serde::{Deserialize, Serialize};

/// The line bot `index` sends as its chat number `seq`.
pub(crate) fn text(index: usize, seq: u32) -> String {
    format!("봇 {index} 채팅 {seq} 🎮 안녕하세요")
}

/// The sender and number of a line, if it is exactly what [`text`] makes of them.
pub(crate) fn parse(line: &str) -> Option<(usize, u32)> {
    let mut words = line.strip_prefix("봇 ")?.split(' ');
    let index: usize = words.next()?.parse().ok()?;
    if words.next()? != "채팅" {
        return None;
    }
    let seq: u32 = words.next()?.parse().ok()?;
    (line == text(index, seq)).then_some((index, seq))
}

/// What one line was, for its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatSeen {
    /// The sender's next line (or its first one seen).
    Next,
    /// `skipped` lines of the sender were jumped over: lost.
    Gap { skipped: u32 },
    /// A line already seen, or older than one seen.
    Repeat,
    /// A sender index outside the run, or number 0: no bot sent it.
    Foreign,
}

/// One receiver's first and last line number seen per sender (0: none yet). 8 bytes a sender
/// per receiver, allocated only when the run chats: N x N x 8 bytes (128 MB at N = 4000),
/// beside the moves' N x N x 4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChatSeqs {
    seen: Vec<(u32, u32)>,
}

impl ChatSeqs {
    /// For a run of `senders` bots.
    pub(crate) fn new(senders: usize) -> ChatSeqs {
        ChatSeqs {
            seen: vec![(0, 0); senders],
        }
    }

    /// Checks one line of `sender`, number `seq`.
    pub(crate) fn on_line(&mut self, sender: usize, seq: u32) -> ChatSeen {
        let Some((first, last)) = self.seen.get_mut(sender).filter(|_| seq > 0) else {
            return ChatSeen::Foreign;
        };
        if *last == 0 {
            (*first, *last) = (seq, seq);
            return ChatSeen::Next;
        }
        if seq <= *last {
            return ChatSeen::Repeat;
        }
        let skipped = seq - *last - 1;
        *last = seq;
        if skipped == 0 {
            ChatSeen::Next
        } else {
            ChatSeen::Gap { skipped }
        }
    }

    /// (first, last) seen per sender.
    pub(crate) fn into_vec(self) -> Vec<(u32, u32)> {
        self.seen
    }
}

/// What one sender's lines owe a whole-window receiver: numbers `(after, upto]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    /// Lines the sender had sent before the window opened.
    pub(crate) after: u32,
    /// The last of its lines it saw come back (its echo proves the room broadcast it, and
    /// every line before it, to everyone in the room).
    pub(crate) upto: u32,
}

/// One bot's part in the chat accounting, read at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BotChats {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) corrupt: u64,
    pub(crate) gaps: u64,
    pub(crate) repeats: u64,
    pub(crate) foreign: u64,
    /// `Some` for a receiver in the room for the whole window: (first, last) seen per sender.
    pub(crate) whole_window: Option<Vec<(u32, u32)>>,
}

/// The outcome of the chat checks, part of the [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatAccounting {
    /// Chat was on (`--chat-interval-ms`).
    pub enabled: bool,
    /// Lines sent by all bots.
    pub sent: u64,
    /// Lines received by all bots.
    pub received: u64,
    /// Receivers checked for every line owed to them (in the room for the whole window).
    pub receivers_checked: u64,
    /// Lines whose text was not exactly what their sender sent. Each is an error.
    pub corrupt: u64,
    /// Lines a receiver should have received and did not. Each is an error.
    pub lost: u64,
    /// Lines received twice, or out of order. Each is an error.
    pub duplicates: u64,
    /// Lines naming a sender no bot is, or number 0. Each is an error.
    pub foreign: u64,
}

impl ChatAccounting {
    /// Adds up every bot's checks; `owed` is indexed by sender bot index.
    pub(crate) fn compute(bots: &[BotChats], owed: &[Owed]) -> ChatAccounting {
        let mut acc = ChatAccounting {
            enabled: true,
            ..ChatAccounting::default()
        };
        for bot in bots {
            acc.sent += bot.sent;
            acc.received += bot.received;
            acc.corrupt += bot.corrupt;
            acc.lost += bot.gaps;
            acc.duplicates += bot.repeats;
            acc.foreign += bot.foreign;
            let Some(seen) = &bot.whole_window else {
                continue;
            };
            acc.receivers_checked += 1;
            for (sender, owed) in owed.iter().enumerate() {
                if owed.upto <= owed.after {
                    continue;
                }
                let (first, last) = seen.get(sender).copied().unwrap_or((0, 0));
                let missing = if last == 0 {
                    owed.upto - owed.after
                } else {
                    // Before the first line seen, and after the last, within what is owed;
                    // between them, gaps were counted as the lines came.
                    let head = first
                        .saturating_sub(owed.after + 1)
                        .min(owed.upto - owed.after);
                    let tail = owed.upto.saturating_sub(last.max(owed.after));
                    head + tail
                };
                acc.lost += u64::from(missing);
            }
        }
        acc
    }

    /// Errors of every kind.
    pub fn errors(&self) -> u64 {
        self.corrupt + self.lost + self.duplicates + self.foreign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_exactly_and_any_change_is_refused() {
        let line = text(12, 345);
        assert_eq!(parse(&line), Some((12, 345)));
        assert_eq!(
            line.encode_utf16().count(),
            line.chars().count() + 1,
            "one surrogate pair"
        );
        for bad in [
            line.replace("🎮", "?"),
            line.replace("안녕", "안영"),
            line.replace("345", "0345"),
            format!("{line} "),
            String::new(),
            "봇 x 채팅 1 🎮 안녕하세요".to_string(),
        ] {
            assert_eq!(parse(&bad), None, "{bad:?} is not a line any bot sent");
        }
    }

    #[test]
    fn gaps_and_repeats_are_each_seen() {
        let mut s = ChatSeqs::new(3);
        assert_eq!(s.on_line(1, 4), ChatSeen::Next, "the first line seen");
        assert_eq!(s.on_line(1, 5), ChatSeen::Next);
        assert_eq!(s.on_line(1, 8), ChatSeen::Gap { skipped: 2 });
        assert_eq!(s.on_line(1, 8), ChatSeen::Repeat);
        assert_eq!(s.on_line(1, 2), ChatSeen::Repeat);
        assert_eq!(s.on_line(7, 1), ChatSeen::Foreign);
        assert_eq!(s.on_line(0, 0), ChatSeen::Foreign);
        assert_eq!(s.into_vec(), vec![(0, 0), (4, 8), (0, 0)]);
    }

    fn receiver(seen: Vec<(u32, u32)>) -> BotChats {
        BotChats {
            whole_window: Some(seen),
            ..BotChats::default()
        }
    }

    #[test]
    fn a_whole_window_receiver_is_owed_every_window_line_up_to_the_senders_echo() {
        // Sender 0 sent 2 lines before the window and saw up to line 10 echoed.
        let owed = [Owed { after: 2, upto: 10 }];
        let full = ChatAccounting::compute(&[receiver(vec![(1, 10)])], &owed);
        assert_eq!(
            (full.lost, full.errors()),
            (0, 0),
            "everything from 1 to 10"
        );
        let late_start = ChatAccounting::compute(&[receiver(vec![(3, 10)])], &owed);
        assert_eq!(
            late_start.lost, 0,
            "lines 1 and 2 came before the window: not owed"
        );
        let head = ChatAccounting::compute(&[receiver(vec![(6, 10)])], &owed);
        assert_eq!(head.lost, 3, "3, 4 and 5 missing at the start");
        let tail = ChatAccounting::compute(&[receiver(vec![(1, 7)])], &owed);
        assert_eq!(tail.lost, 3, "8, 9 and 10 missing at the end");
        let none = ChatAccounting::compute(&[receiver(vec![(0, 0)])], &owed);
        assert_eq!(none.lost, 8, "nothing of 3..=10 arrived");
        let churned = BotChats {
            gaps: 2,
            repeats: 1,
            ..BotChats::default()
        };
        let acc = ChatAccounting::compute(&[churned], &owed);
        assert_eq!(
            (acc.lost, acc.duplicates, acc.receivers_checked),
            (2, 1, 0),
            "a churned receiver: its gaps and repeats only"
        );
    }
}
