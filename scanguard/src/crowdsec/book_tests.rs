//! The stream's answers applied: deletes before adds, the longest decision wins, full pulls
//! replace, ends are kept, the maps' room is respected.

use super::*;

const SECOND: u64 = 1_000_000_000;
const ROOMY: Capacity = Capacity {
    addresses: 100,
    ranges: 100,
};

fn ban(id: i64, scope: &str, value: &str, duration: &str) -> LapiDecision {
    LapiDecision {
        id,
        origin: "cscli".to_string(),
        kind: "ban".to_string(),
        scope: scope.to_string(),
        value: value.to_string(),
        duration: duration.to_string(),
        scenario: "manual 'ban' from 'cscli'".to_string(),
    }
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn delta(new: Vec<LapiDecision>, deleted: Vec<LapiDecision>) -> StreamAnswer {
    StreamAnswer {
        new: Some(new),
        deleted: Some(deleted),
    }
}

fn ends(plan: &Plan) -> BTreeMap<IpNet, u64> {
    plan.put
        .iter()
        .map(|(net, decision)| (*net, decision.expires_at_ns))
        .collect()
}

fn state() -> State {
    State::new(ROOMY, Labels::default())
}

#[test]
fn bans_of_addresses_and_ranges_become_targets() {
    assert_eq!(
        ban(1, "Ip", "192.0.2.7", "1h").target(),
        Some(net("192.0.2.7/32"))
    );
    assert_eq!(
        ban(1, "ip", "2001:db8::7", "1h").target(),
        Some(net("2001:db8::7/128"))
    );
    assert_eq!(
        ban(1, "Ip", "::ffff:192.0.2.7", "1h").target(),
        Some(net("192.0.2.7/32"))
    );
    assert_eq!(
        ban(1, "Range", "198.51.100.9/24", "1h").target(),
        Some(net("198.51.100.0/24"))
    );
    assert_eq!(
        ban(1, "Range", "::ffff:198.51.100.0/120", "1h").target(),
        Some(net("198.51.100.0/24"))
    );
    assert_eq!(
        ban(1, "Range", "2001:db8:1::/48", "1h").target(),
        Some(net("2001:db8:1::/48"))
    );
    let captcha = LapiDecision {
        kind: "captcha".to_string(),
        ..ban(1, "Ip", "192.0.2.7", "1h")
    };
    assert_eq!(captcha.target(), None);
    assert_eq!(ban(1, "Country", "FR", "1h").target(), None);
    assert_eq!(ban(1, "Ip", "not-an-ip", "1h").target(), None);
}

#[test]
fn an_answer_with_nulls_parses() {
    let answer: StreamAnswer = serde_json::from_str(r#"{"deleted":null,"new":null}"#).unwrap();
    assert!(answer.new.is_none() && answer.deleted.is_none());
    let answer: StreamAnswer = serde_json::from_str(
        r#"{"deleted":[],"new":[{"duration":"59.6s","id":6,"origin":"scanguard",
        "scenario":"scanguard/null-scan","scope":"Ip","type":"ban","value":"203.0.113.9",
        "until":"ignored"}]}"#,
    )
    .unwrap();
    assert_eq!(answer.new.unwrap()[0].id, 6);
}

#[test]
fn deletes_go_before_adds() {
    let mut state = state();
    state.apply_delta(delta(vec![ban(1, "Ip", "192.0.2.7", "1h")], vec![]), 0);
    // The LAPI replaces decision 1 with decision 2 in one answer: the source stays banned.
    let plan = state.apply_delta(
        delta(
            vec![ban(2, "Ip", "192.0.2.7", "2h")],
            vec![ban(1, "Ip", "192.0.2.7", "-1ms")],
        ),
        SECOND,
    );
    assert!(plan.remove.is_empty(), "{plan:?}");
    assert_eq!(ends(&plan)[&net("192.0.2.7/32")], SECOND + 7200 * SECOND);
    // A delete that comes again changes nothing.
    let plan = state.apply_delta(
        delta(vec![], vec![ban(1, "Ip", "192.0.2.7", "-1ms")]),
        SECOND,
    );
    assert!(plan.is_empty());
}

#[test]
fn duplicates_collapse_to_the_longest() {
    let mut state = state();
    let plan = state.apply_delta(
        delta(
            vec![
                ban(1, "Ip", "192.0.2.7", "4h"),
                ban(2, "Ip", "192.0.2.7", "1h"),
                ban(3, "Ip", "192.0.2.7", "2h"),
            ],
            vec![],
        ),
        0,
    );
    assert_eq!(plan.put.len(), 1);
    assert_eq!(ends(&plan)[&net("192.0.2.7/32")], 4 * 3600 * SECOND);
    // The longest deleted, the next longest held takes over.
    let plan = state.apply_delta(delta(vec![], vec![ban(1, "Ip", "192.0.2.7", "-1s")]), 0);
    assert_eq!(ends(&plan)[&net("192.0.2.7/32")], 2 * 3600 * SECOND);
    // A shorter one does not shorten it.
    let plan = state.apply_delta(delta(vec![ban(4, "Ip", "192.0.2.7", "1m")], vec![]), 0);
    assert!(plan.is_empty());
    // All gone: removed.
    let gone = vec![
        ban(2, "Ip", "", ""),
        ban(3, "Ip", "", ""),
        ban(4, "Ip", "", ""),
    ];
    let plan = state.apply_delta(delta(vec![], gone), 0);
    assert_eq!(plan.remove, vec![net("192.0.2.7/32")]);
    assert_eq!(state.counts(), DecisionCounts::default());
}

#[test]
fn a_full_pull_replaces_and_keeps_the_ends_it_knows() {
    let mut state = state();
    state.apply_delta(
        delta(
            vec![
                ban(1, "Ip", "192.0.2.7", "1h"),
                ban(2, "Range", "198.51.100.0/24", "1h"),
            ],
            vec![],
        ),
        0,
    );
    // A minute later: decision 1 is still there with a minute less to go (rounded by the
    // LAPI), decision 2 is gone without a delete reaching us, decision 3 is new.
    let plan = state.replace(
        vec![
            ban(1, "Ip", "192.0.2.7", "58m59.9999s"),
            ban(3, "Ip", "2001:db8::7", "10m"),
        ],
        60 * SECOND,
    );
    assert_eq!(plan.remove, vec![net("198.51.100.0/24")]);
    assert_eq!(plan.put.len(), 1);
    assert_eq!(ends(&plan)[&net("2001:db8::7/128")], 660 * SECOND);
    assert_eq!(
        state.counts(),
        DecisionCounts {
            addresses: 2,
            ranges: 0,
            ..DecisionCounts::default()
        }
    );
}

#[test]
fn ended_decisions_are_removed() {
    let mut state = state();
    state.apply_delta(
        delta(
            vec![
                ban(1, "Ip", "192.0.2.7", "10s"),
                ban(2, "Ip", "192.0.2.7", "20s"),
                ban(3, "Ip", "192.0.2.8", "30s"),
                ban(4, "Ip", "192.0.2.9", "-5s"),
            ],
            vec![],
        ),
        0,
    );
    assert_eq!(state.counts().addresses, 2);
    assert!(state.expire(15 * SECOND).is_empty());
    let plan = state.expire(20 * SECOND);
    assert_eq!(plan.remove, vec![net("192.0.2.7/32")]);
    let plan = state.expire(40 * SECOND);
    assert_eq!(plan.remove, vec![net("192.0.2.8/32")]);
}

#[test]
fn what_does_not_fit_waits_for_room() {
    let mut state = State::new(
        Capacity {
            addresses: 2,
            ranges: 1,
        },
        Labels::default(),
    );
    let plan = state.apply_delta(
        delta(
            vec![
                ban(1, "Ip", "192.0.2.1", "1h"),
                ban(2, "Ip", "192.0.2.2", "1h"),
                ban(4, "Range", "10.0.0.0/8", "1h"),
            ],
            vec![],
        ),
        0,
    );
    assert_eq!((plan.put.len(), state.overflow()), (3, 0));
    let plan = state.apply_delta(
        delta(
            vec![
                ban(3, "Ip", "192.0.2.3", "1h"),
                ban(5, "Range", "10.1.0.0/16", "1h"),
            ],
            vec![],
        ),
        0,
    );
    assert!(plan.is_empty());
    assert_eq!(state.overflow(), 2);
    assert_eq!(state.held(), (3, 2));
    // Room is made: the waiting ones go in, in the same plan as the removals.
    let plan = state.apply_delta(
        delta(vec![], vec![ban(1, "Ip", "", ""), ban(4, "Range", "", "")]),
        0,
    );
    assert_eq!(plan.remove.len(), 2);
    assert_eq!(
        ends(&plan).keys().copied().collect::<Vec<_>>(),
        [net("10.1.0.0/16"), net("192.0.2.3/32")]
    );
    assert_eq!(state.overflow(), 0);
    assert_eq!(
        state.counts(),
        DecisionCounts {
            addresses: 2,
            ranges: 1,
            ..DecisionCounts::default()
        }
    );
}

#[test]
fn adopted_entries_hold_until_a_full_pull() {
    let mut state = state();
    let adopted = Decision {
        expires_at_ns: 100 * SECOND,
        since_ns: 0,
        dropped: 9,
        scenario: 1,
        origin: 1,
        _pad: [0; 5],
    };
    state.seed([(net("192.0.2.7/32"), adopted)]);
    assert_eq!(state.counts().addresses, 1);
    // Deltas leave it alone; the full pull that no longer has it removes it.
    assert!(state.apply_delta(delta(vec![], vec![]), SECOND).is_empty());
    let plan = state.replace(vec![ban(1, "Ip", "192.0.2.8", "1h")], SECOND);
    assert_eq!(plan.remove, vec![net("192.0.2.7/32")]);
}

#[test]
fn labels_are_numbered_once_and_run_out_to_other() {
    let mut labels = Labels::from_tables(
        &["".to_string(), "cscli".to_string()],
        &["".to_string(), "ssh-bf".to_string()],
    );
    assert_eq!(labels.origin("cscli"), 1);
    assert_eq!(labels.scenario("ssh-bf"), 1);
    assert_eq!(labels.origin("CAPI"), 2);
    assert_eq!(labels.origin("CAPI"), 2);
    assert_eq!(
        labels.take_fresh(),
        vec![Fresh::Origin(2, "CAPI".to_string())]
    );
    for n in 3..ORIGIN_SLOTS {
        assert_eq!(u32::from(labels.origin(&format!("o{n}"))), n);
    }
    assert_eq!(labels.origin("one-too-many"), OTHER_LABEL as u8);
    // Adopted tables with a gap: new names go past the highest id, never onto one in use.
    let mut labels = Labels::from_tables(
        &[
            "".to_string(),
            "cscli".to_string(),
            "".to_string(),
            "CAPI".to_string(),
        ],
        &[],
    );
    assert_eq!(labels.origin("lists"), 4);
}
