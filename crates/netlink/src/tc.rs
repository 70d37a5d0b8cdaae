//! Traffic control for Kata's `tcfilter` model: an `ingress` qdisc on both ends and a filter that
//! redirects every frame arriving on one to the egress of the other (`tc filter add dev A parent
//! ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev B`, Kata's filter; `u32`
//! rather than `matchall`, which kernels built without `CONFIG_NET_CLS_MATCHALL` lack), so the
//! pod's veth and the VM's tap act as one wire.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionMirrorOption, TcActionOption, TcActionType, TcAttribute,
    TcFilterU32Option, TcHandle, TcMessage, TcMirror, TcMirrorActionType, TcOption, TcU32Key,
    TcU32Selector, TcU32SelectorFlags,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::Result;
use crate::Netlink;

/// `ETH_P_ALL`: every protocol, in network byte order as the filter's info wants it.
const ETH_P_ALL: u16 = 0x0003;
/// The filter's priority (`tc ... prio 49152`, what tc picks by default for the first filter).
const PRIORITY: u16 = 0xc000;
/// Handle of the ingress qdisc (`ffff:`).
const INGRESS_HANDLE: TcHandle = TcHandle {
    major: 0xffff,
    minor: 0,
};

fn qdisc(index: u32) -> TcMessage {
    let mut m = TcMessage::default();
    m.header.index = index as i32;
    m.header.handle = INGRESS_HANDLE;
    m.header.parent = TcHandle::INGRESS;
    m.attributes.push(TcAttribute::Kind("ingress".into()));
    m
}

/// Adds the ingress qdisc to device `index`. Errors: one already exists (`EEXIST`), or the kernel
/// lacks `sch_ingress`.
pub fn add_ingress_qdisc(nl: &mut Netlink, index: u32) -> Result<()> {
    nl.request(
        &format!("add ingress qdisc to device {index}"),
        RouteNetlinkMessage::NewQueueDiscipline(qdisc(index)),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// Removes the ingress qdisc of device `index`, and with it its filters.
pub fn del_ingress_qdisc(nl: &mut Netlink, index: u32) -> Result<()> {
    nl.request(
        &format!("delete ingress qdisc of device {index}"),
        RouteNetlinkMessage::DelQueueDiscipline(qdisc(index)),
        0,
    )
}

/// Redirects every frame entering device `from` to the egress of device `to`.
pub fn add_redirect(nl: &mut Netlink, from: u32, to: u32) -> Result<()> {
    let mut mirror = TcMirror::default();
    mirror.generic.action = TcActionType::Stolen;
    mirror.eaction = TcMirrorActionType::EgressRedir;
    mirror.ifindex = to;
    let mut action = TcAction::default();
    action.tab = 1;
    action.attributes = vec![
        TcActionAttribute::Kind("mirred".into()),
        TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
            mirror,
        ))]),
    ];
    let mut m = TcMessage::default();
    m.header.index = from as i32;
    m.header.parent = INGRESS_HANDLE;
    m.header.info = (u32::from(PRIORITY) << 16) | u32::from(ETH_P_ALL.to_be());
    // One key matching every frame: mask 0, value 0 at offset 0; terminal.
    let mut key = TcU32Key::default();
    key.mask = 0;
    key.val = 0;
    let mut selector = TcU32Selector::default();
    selector.flags = TcU32SelectorFlags::Terminal;
    selector.nkeys = 1;
    selector.keys = vec![key];
    m.attributes = vec![
        TcAttribute::Kind("u32".into()),
        TcAttribute::Options(vec![
            TcOption::U32(TcFilterU32Option::Selector(selector)),
            TcOption::U32(TcFilterU32Option::Action(vec![action])),
        ]),
    ];
    nl.request(
        &format!("redirect device {from} to device {to}"),
        RouteNetlinkMessage::NewTrafficFilter(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}
