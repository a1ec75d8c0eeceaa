// node.cpp - lsmt_raft_node: one replica of an lsmt store replicated with Raft (libraft 0.15
// over libuv). The store is the Raft state machine (state_machine.hpp).
//
//   lsmt_raft_node --id N --address 127.0.0.1:PORT --dir DIR
//                  --cluster 1=127.0.0.1:P1,2=127.0.0.1:P2,3=127.0.0.1:P3 [--bootstrap]
//                  [--snapshot-threshold N] [--snapshot-trailing N] [--election-timeout MS]
//                  [--install-snapshot-timeout MS]
//
// Raft talks on --address. Clients talk to PORT + 1000 on the same host, one request per line
// (client.hpp lists the requests). DIR/raft holds libraft's log and snapshots, DIR/store the
// lsmt store. --bootstrap writes the initial configuration (the --cluster members) on a node's
// first start; it does nothing on later starts. SIGINT or SIGTERM stops the node cleanly; after
// SIGKILL it restarts from DIR.
//
// --install-snapshot-timeout defaults to 10 s, not libraft's 30 s: a follower that is taking its
// own snapshot when the leader's arrives refuses it (busy), and the leader only sends it again
// after this timeout, so the follower lags that long.
//
// Writes (put, del) are acknowledged once committed by a majority and applied here. Reads (get,
// scan) go through raft_barrier on the leader, so they see every write acknowledged before them
// (linearizable). localget and localscan read this replica's copy without Raft: possibly stale.
//
// Thread safety: everything runs on the libuv loop's thread.
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client.hpp"
#include "state_machine.hpp"

extern "C" {
#include <raft/uv.h>
}

namespace {

struct member {
  raft_id id;
  std::string address;
};

struct node_options {
  raft_id id = 0;
  std::string address;
  std::filesystem::path dir;
  std::vector<member> cluster;
  bool bootstrap = false;
  unsigned snapshot_threshold = 1024;
  unsigned snapshot_trailing = 128;
  unsigned election_timeout = 1000;
  unsigned install_snapshot_timeout = 10000;
};

/// The client address that goes with a Raft address: the same host, port + 1000.
std::string client_address(const std::string& raft_address) {
  const auto [ip, port] = replicated::split_address(raft_address);
  if (port > 65535 - 1000) throw std::invalid_argument("port too high: " + raft_address);
  return ip + ":" + std::to_string(port + 1000);
}

struct connection;

/// The node: Raft, the state machine, the client listener and its connections.
struct node {
  uv_loop_t* loop = nullptr;
  raft_uv_transport transport{};
  raft_io io{};
  raft raft_instance{};
  std::unique_ptr<replicated::state_machine> sm;
  uv_tcp_t listener{};
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  std::map<uint64_t, connection*> connections;
  uint64_t next_connection = 1;
  node_options opts;
  bool stopping = false;
};

/// One client connection. Requests are answered in order, one at a time; after the client's
/// end of input, the requests already received are answered, then the connection closes.
struct connection {
  uv_tcp_t handle{};
  node* owner = nullptr;
  uint64_t id = 0;
  std::string input;
  bool busy = false;
  bool input_ended = false;
};

// Input without a newline, and answers a client does not read, are capped per connection.
constexpr size_t max_buffered = size_t{64} << 20;

void pump(connection* c);

void free_connection(uv_handle_t* h) { delete static_cast<connection*>(h->data); }

void close_connection(connection* c) {
  c->owner->connections.erase(c->id);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), free_connection);
}

void reply(connection* c, std::string text) {
  struct write_req {
    uv_write_t req;
    std::string data;
  };
  auto* stream = reinterpret_cast<uv_stream_t*>(&c->handle);
  if (uv_stream_get_write_queue_size(stream) > max_buffered) return close_connection(c);
  auto* w = new write_req{{}, std::move(text)};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  const int rv = uv_write(&w->req, stream, &buf, 1,
                          [](uv_write_t* req, int) { delete reinterpret_cast<write_req*>(req); });
  if (rv != 0) delete w;
}

/// Finishes the current request of connection `id`, if that connection still exists.
void finish(node* n, uint64_t id, const std::string& text) {
  auto it = n->connections.find(id);
  if (it == n->connections.end()) return;
  connection* c = it->second;
  c->busy = false;
  reply(c, text);
  if (n->connections.count(id)) pump(c);
}

std::string not_leader(node* n) {
  raft_id id = 0;
  const char* address = nullptr;
  raft_leader(&n->raft_instance, &id, &address);
  return "NOTLEADER " + (address ? client_address(address) : std::string("-")) + "\n";
}

std::string error_answer(int raft_status) {
  return std::string("ERR ") + raft_strerror(raft_status) + "\n";
}

/// Answers a request that libraft refused to start.
void refuse(connection* c, int rv) {
  c->busy = false;
  reply(c, rv == RAFT_NOTLEADER ? not_leader(c->owner) : error_answer(rv));
}

std::string items(const std::vector<std::pair<std::string, std::string>>& all) {
  std::string out;
  for (const auto& [k, v] : all) out += "ITEM " + k + " " + v + "\n";
  return out + "END " + std::to_string(all.size()) + "\n";
}

std::string status(node* n) {
  static const char* const states[] = {"unavailable", "follower", "candidate", "leader"};
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&n->raft_instance, &leader, &address);
  const int state = raft_state(&n->raft_instance);
  std::ostringstream os;
  os << "STATUS id=" << n->opts.id << " state=" << states[state >= 0 && state <= 3 ? state : 0]
     << " leader=" << leader << " applied=" << n->sm->applied_index()
     << " raft_applied=" << raft_last_applied(&n->raft_instance)
     << " snapshots_taken=" << n->sm->snapshots_taken()
     << " snapshots_installed=" << n->sm->snapshots_installed()
     << " replays_skipped=" << n->sm->replays_skipped() << "\n";
  return os.str();
}

// libraft's callbacks below must not let an exception unwind into libraft's C frames.

/// put and del: propose the command; answer when it is applied here (or has failed).
void propose(connection* c, const std::string& command) {
  node* n = c->owner;
  struct apply_req {
    struct raft_apply req;
    node* owner;
    uint64_t connection;
  };
  raft_buffer buf = replicated::to_raft_buffer(command);
  auto* a = new apply_req{{}, n, c->id};
  a->req.data = a;
  const int rv = raft_apply(
      &n->raft_instance, &a->req, &buf, 1, [](struct raft_apply* req, int status, void*) {
        auto* a = static_cast<apply_req*>(req->data);
        try {
          finish(a->owner, a->connection, status == 0 ? "OK\n" : error_answer(status));
        } catch (const std::exception& e) {
          std::cerr << "lsmt_raft_node: answering a write: " << e.what() << "\n";
        }
        delete a;
      });
  if (rv != 0) {
    raft_free(buf.base);
    delete a;
    refuse(c, rv);
  }
}

/// get and scan: a barrier first, so the read sees every write committed before it.
void linearizable_read(connection* c, std::string key, bool whole) {
  node* n = c->owner;
  struct barrier_req {
    struct raft_barrier req;
    node* owner;
    uint64_t connection;
    std::string key;
    bool whole;
  };
  auto* b = new barrier_req{{}, n, c->id, std::move(key), whole};
  b->req.data = b;
  const int rv = raft_barrier(&n->raft_instance, &b->req, [](struct raft_barrier* req, int status) {
    auto* b = static_cast<barrier_req*>(req->data);
    std::string answer;
    try {
      if (status != 0) {
        answer = error_answer(status);
      } else if (b->whole) {
        answer = items(b->owner->sm->scan());
      } else {
        const auto v = b->owner->sm->get(b->key);
        answer = v ? "VALUE " + *v + "\n" : "NOTFOUND\n";
      }
    } catch (const std::exception& e) {
      answer = std::string("ERR ") + e.what() + "\n";
    }
    try {
      finish(b->owner, b->connection, answer);
    } catch (const std::exception& e) {
      std::cerr << "lsmt_raft_node: answering a read: " << e.what() << "\n";
    }
    delete b;
  });
  if (rv != 0) {
    delete b;
    refuse(c, rv);
  }
}

void handle(connection* c, const std::string& line) {
  node* n = c->owner;
  std::istringstream in(line);
  std::string verb, key, value, extra;
  in >> verb >> key >> value >> extra;
  const bool one_key = !key.empty() && value.empty();
  const bool write =
      (verb == "put" && !value.empty() && extra.empty()) || (verb == "del" && one_key);
  const bool read = (verb == "get" && one_key) || (verb == "scan" && key.empty());
  if (write || read) {
    if (raft_state(&n->raft_instance) != RAFT_LEADER) return reply(c, not_leader(n));
    c->busy = true;
    if (verb == "put") return propose(c, replicated::encode_put(key, value));
    if (verb == "del") return propose(c, replicated::encode_delete(key));
    return linearizable_read(c, key, verb == "scan");
  }
  if (verb == "localget" && one_key) {
    const auto v = n->sm->get(key);
    return reply(c, v ? "VALUE " + *v + "\n" : "NOTFOUND\n");
  }
  if (verb == "localscan" && key.empty()) return reply(c, items(n->sm->scan()));
  if (verb == "status" && key.empty()) return reply(c, status(n));
  reply(c, "ERR bad request (put K V, del K, get K, scan, localget K, localscan, status)\n");
}

/// Handles the received lines while no request is in flight; closes the connection once the
/// client's input has ended and everything is answered.
void pump(connection* c) {
  const uint64_t id = c->id;
  node* n = c->owner;
  while (!c->busy) {
    const size_t nl = c->input.find('\n');
    if (nl == std::string::npos) {
      if (c->input_ended) close_connection(c);
      return;
    }
    std::string line = c->input.substr(0, nl);
    c->input.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      handle(c, line);
    } catch (const std::exception& e) {
      c->busy = false;
      reply(c, std::string("ERR ") + e.what() + "\n");
    }
    if (!n->connections.count(id)) return;  // reply() closed it: the client does not read
  }
}

void on_connection(uv_stream_t* server, int status) {
  node* n = static_cast<node*>(server->data);
  if (status < 0 || n->stopping) return;
  auto* c = new connection;
  c->owner = n;
  c->id = n->next_connection++;
  c->handle.data = c;
  uv_tcp_init(n->loop, &c->handle);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->handle)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), free_connection);
    return;
  }
  n->connections[c->id] = c;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->handle),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<connection*>(stream->data);
        if (nread > 0) c->input.append(buf->base, static_cast<size_t>(nread));
        delete[] buf->base;
        if (nread == UV_EOF) {
          c->input_ended = true;
          uv_read_stop(stream);
        } else if (nread < 0 || c->input.size() > max_buffered) {
          return close_connection(c);
        }
        pump(c);
      });
}

void stop(node* n) {
  if (n->stopping) return;
  n->stopping = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&n->sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&n->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&n->listener), nullptr);
  std::vector<connection*> open;
  for (auto& [id, c] : n->connections) open.push_back(c);
  for (connection* c : open) close_connection(c);
  n->raft_instance.data = n;
  raft_close(&n->raft_instance, [](raft* r) {
    node* n = static_cast<node*>(r->data);
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
  });
}

node_options parse(int argc, char** argv) {
  node_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--id") {
      o.id = std::stoull(value());
    } else if (a == "--address") {
      o.address = value();
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--bootstrap") {
      o.bootstrap = true;
    } else if (a == "--snapshot-threshold") {
      o.snapshot_threshold = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--snapshot-trailing") {
      o.snapshot_trailing = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--election-timeout") {
      o.election_timeout = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--install-snapshot-timeout") {
      o.install_snapshot_timeout = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--cluster") {
      std::istringstream in(value());
      std::string entry;
      while (std::getline(in, entry, ',')) {
        const size_t eq = entry.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--cluster: expected ID=ADDRESS");
        o.cluster.push_back({std::stoull(entry.substr(0, eq)), entry.substr(eq + 1)});
      }
    } else {
      throw std::invalid_argument("unknown argument " + a);
    }
  }
  if (o.id == 0 || o.address.empty() || o.dir.empty() || o.cluster.empty())
    throw std::invalid_argument("--id, --address, --dir and --cluster are required");
  client_address(o.address);  // validates the address
  return o;
}

void check(int rv, const char* what, const char* detail = nullptr) {
  if (rv != 0)
    throw std::runtime_error(std::string(what) + ": " + (detail ? detail : raft_strerror(rv)));
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the node
  node n;
  try {
    n.opts = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "lsmt_raft_node: " << e.what() << "\n";
    return 2;
  }
  try {
    const std::filesystem::path raft_dir = n.opts.dir / "raft";
    std::filesystem::create_directories(raft_dir);
    n.sm = std::make_unique<replicated::state_machine>(n.opts.dir / "store");

    uv_loop_t loop;
    check(uv_loop_init(&loop), "uv_loop_init");
    n.loop = &loop;
    check(raft_uv_tcp_init(&n.transport, &loop), "raft_uv_tcp_init");
    check(raft_uv_init(&n.io, &loop, raft_dir.c_str(), &n.transport), "raft_uv_init", n.io.errmsg);
    check(raft_init(&n.raft_instance, &n.io, n.sm->fsm(), n.opts.id, n.opts.address.c_str()),
          "raft_init", raft_errmsg(&n.raft_instance));
    n.sm->attach(&n.raft_instance);
    if (n.opts.bootstrap) {
      raft_configuration conf;
      raft_configuration_init(&conf);
      for (const member& m : n.opts.cluster)
        check(raft_configuration_add(&conf, m.id, m.address.c_str(), RAFT_VOTER),
              "raft_configuration_add");
      const int rv = raft_bootstrap(&n.raft_instance, &conf);
      raft_configuration_close(&conf);
      if (rv != RAFT_CANTBOOTSTRAP) check(rv, "raft_bootstrap");  // already bootstrapped: fine
    }
    raft_set_snapshot_threshold(&n.raft_instance, n.opts.snapshot_threshold);
    raft_set_snapshot_trailing(&n.raft_instance, n.opts.snapshot_trailing);
    raft_set_election_timeout(&n.raft_instance, n.opts.election_timeout);
    raft_set_install_snapshot_timeout(&n.raft_instance, n.opts.install_snapshot_timeout);
    raft_set_pre_vote(&n.raft_instance, true);
    check(raft_start(&n.raft_instance), "raft_start", raft_errmsg(&n.raft_instance));

    const auto [ip, port] = replicated::split_address(client_address(n.opts.address));
    sockaddr_in sa{};
    check(uv_ip4_addr(ip.c_str(), port, &sa), "uv_ip4_addr");
    uv_tcp_init(&loop, &n.listener);
    n.listener.data = &n;
    const int bound = uv_tcp_bind(&n.listener, reinterpret_cast<const sockaddr*>(&sa), 0);
    if (bound != 0) throw std::runtime_error(std::string("client port: ") + uv_strerror(bound));
    const int listening =
        uv_listen(reinterpret_cast<uv_stream_t*>(&n.listener), 128, on_connection);
    if (listening != 0) throw std::runtime_error(std::string("listen: ") + uv_strerror(listening));
    for (uv_signal_t* s : {&n.sigint, &n.sigterm}) {
      uv_signal_init(&loop, s);
      s->data = &n;
    }
    auto on_signal = [](uv_signal_t* s, int) { stop(static_cast<node*>(s->data)); };
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    std::cerr << "lsmt_raft_node " << n.opts.id << ": raft on " << n.opts.address << ", clients on "
              << client_address(n.opts.address) << ", applied index " << n.sm->applied_index()
              << "\n";

    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    std::cerr << "lsmt_raft_node " << n.opts.id << ": stopped at applied index "
              << n.sm->applied_index() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "lsmt_raft_node " << n.opts.id << ": " << e.what() << "\n";
    return 1;
  }
}
