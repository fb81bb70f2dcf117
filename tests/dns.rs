//! A real DNS server on loopback for the reverse-DNS tests: UDP, one thread
//! per query (so slow answers overlap), answering PTR queries as told per
//! reverse name, and counting the queries it receives.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Answer {
    /// A PTR record, after the delay.
    Ptr(&'static str, Duration),
    NxDomain,
    ServFail,
    /// Never answers.
    Silent,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

impl DnsServer {
    /// Starts a server on 127.0.0.1 (a free port). Addresses it was not told
    /// about get NXDOMAIN. It runs until the test process ends.
    pub fn start(answers: Vec<(IpAddr, Answer)>) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port");
        let addr = socket.local_addr().unwrap();
        let answers: Arc<HashMap<Name, Answer>> = Arc::new(
            answers
                .into_iter()
                .map(|(ip, a)| (Name::from(ip).to_lowercase(), a))
                .collect(),
        );
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let (socket, answers) = (socket.try_clone().unwrap(), answers.clone());
                std::thread::spawn(move || {
                    let Some(q) = query.queries().first().cloned() else {
                        return;
                    };
                    let mut reply = Message::new();
                    reply
                        .set_id(query.id())
                        .set_message_type(MessageType::Response)
                        .set_op_code(query.op_code());
                    reply
                        .set_recursion_desired(query.recursion_desired())
                        .set_recursion_available(true);
                    reply.add_query(q.clone());
                    match answers
                        .get(&q.name().to_lowercase())
                        .cloned()
                        .unwrap_or(Answer::NxDomain)
                    {
                        Answer::Silent => return,
                        Answer::NxDomain => {
                            reply.set_response_code(ResponseCode::NXDomain);
                        }
                        Answer::ServFail => {
                            reply.set_response_code(ResponseCode::ServFail);
                        }
                        Answer::Ptr(host, delay) => {
                            std::thread::sleep(delay);
                            let rdata = RData::PTR(PTR(Name::from_str(host).unwrap()));
                            reply.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                        }
                    }
                    let _ = socket.send_to(&reply.to_vec().unwrap(), peer);
                });
            }
        });
        DnsServer { addr, queries }
    }

    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}
