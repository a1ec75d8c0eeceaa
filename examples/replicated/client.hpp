// client.hpp - a blocking client for lsmt_raft_node's line protocol (see node.cpp).
//
// A request is one line; keys and values are single words (no spaces, tabs or newlines):
//   put KEY VALUE    -> OK
//   del KEY          -> OK
//   get KEY          -> VALUE V | NOTFOUND           (linearizable: a Raft barrier first)
//   scan             -> ITEM K V ... then END N      (linearizable)
//   localget KEY, localscan                          (this replica's copy, possibly stale)
//   status           -> STATUS id=.. state=.. leader=.. applied=.. ...
// A node that is not the leader answers put, del, get and scan with NOTLEADER ADDRESS (the
// leader's client address, or "-" if it knows none). Failures answer ERR MESSAGE.
//
// cluster_client sends a request to the leader, following NOTLEADER answers and trying the next
// node when one is down, until a deadline.
//
// Thread safety: none; use one object per thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace replicated {

/// "127.0.0.1:PORT" -> (ip, port); throws std::invalid_argument if malformed.
inline std::pair<std::string, uint16_t> split_address(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("address without port: " + address);
  const unsigned long port = std::stoul(address.substr(colon + 1));
  if (port == 0 || port > 65535) throw std::invalid_argument("bad port in " + address);
  return {address.substr(0, colon), static_cast<uint16_t>(port)};
}

/// One TCP connection to one node. Every call throws std::runtime_error when the connection
/// fails or times out; the connection is then closed.
class connection {
 public:
  connection(const std::string& address, std::chrono::milliseconds timeout) {
    const auto [ip, port] = split_address(address);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
      throw std::invalid_argument("not an IPv4 address: " + ip);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      close();
      throw std::runtime_error("cannot connect to " + address);
    }
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { close(); }

  bool is_open() const { return fd_ >= 0; }

  /// Sends one request line and returns the answer: one line, or the ITEM lines and END.
  std::vector<std::string> request(const std::string& line) {
    send_all(line + "\n");
    std::vector<std::string> answer{read_line()};
    if (answer[0].rfind("ITEM ", 0) == 0)
      while (answer.back().rfind("END", 0) != 0) answer.push_back(read_line());
    return answer;
  }

 private:
  /// Reads one answer line (without its newline).
  std::string read_line() {
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      const ssize_t n = is_open() ? ::read(fd_, chunk, sizeof chunk) : -1;
      if (n <= 0) {
        close();
        throw std::runtime_error(n == 0 ? "connection closed" : "read failed or timed out");
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  void send_all(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n =
          is_open() ? ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL) : -1;
      if (n <= 0) {
        close();
        throw std::runtime_error("send failed");
      }
      done += static_cast<size_t>(n);
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  std::string buffer_;
};

/// Sends requests to whichever node leads, following NOTLEADER answers.
class cluster_client {
 public:
  explicit cluster_client(std::vector<std::string> nodes,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : nodes_(std::move(nodes)), timeout_(timeout) {
    if (nodes_.empty()) throw std::invalid_argument("no node addresses");
  }

  /// The answer lines to `line` from the leader: one line, or for scan the ITEM lines and END.
  /// Returns nullopt if no leader answered before `deadline` after the call. An answer starting
  /// with ERR is returned as is: for put and del its outcome is unknown (it may still commit).
  /// A connection that fails after the request was sent also makes the outcome unknown; the
  /// request is then not retried, and "ERR connection lost" is returned.
  std::optional<std::vector<std::string>> send(const std::string& line,
                                               std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      bool sent = false;
      try {
        if (!conn_) conn_ = std::make_unique<connection>(nodes_[current_], timeout_);
        sent = true;
        std::vector<std::string> answer = conn_->request(line);
        if (answer[0].rfind("NOTLEADER", 0) == 0) {
          follow(answer[0].size() > 10 ? answer[0].substr(10) : "-");
          continue;
        }
        return answer;
      } catch (const std::runtime_error&) {
        conn_.reset();
        if (sent && !idempotent(line)) return std::vector<std::string>{"ERR connection lost"};
        next();
      }
    }
    return std::nullopt;
  }

 private:
  static bool idempotent(const std::string& line) {
    return line.rfind("put ", 0) != 0 && line.rfind("del ", 0) != 0;
  }
  void follow(const std::string& leader) {
    conn_.reset();
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i] == leader) {
        current_ = i;
        return;
      }
    next();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // an election is under way
  }
  void next() {
    conn_.reset();
    current_ = (current_ + 1) % nodes_.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::vector<std::string> nodes_;
  std::chrono::milliseconds timeout_;
  size_t current_ = 0;
  std::unique_ptr<connection> conn_;
};

}  // namespace replicated
