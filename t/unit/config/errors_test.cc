// One test per config error message: each case is a config text and the exact
// "FILE:LINE: message" that LoadFromString must return.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace drover::config {
namespace {

struct ErrorCase {
  const char* name;
  std::string text;
  std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

// Prefix for most cases: a valid [server] whose Listen is on line 2.
const std::string kServer = "[server]\nListen = 80\n";  // lines 1-2
const std::string kBal = "[balancer://c]\nBalancerMember = http://a:1\n";

std::string Load(const std::string& text) {
  LoadOptions o;
  o.file = "drover.conf";
  o.prefix = "/p";
  auto r = LoadFromString(text, o);
  return r.ok() ? "(loaded)" : r.status().message();
}

class ConfigErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, Message) { EXPECT_EQ(Load(GetParam().text), GetParam().message); }

const ErrorCase kCases[] = {
    // --- reader (see reader_test.cc for more)
    {"LineTooLong", kServer + "ServerName = " + std::string(190, 'x') + "\n",
     "drover.conf:3: line longer than 199 characters"},
    {"SyntaxError", kServer + "Timeout 30\n", "drover.conf:3: syntax error"},
    // --- sections
    {"UnknownSection", kServer + "[proxy]\n",
     "drover.conf:3: unknown section '[proxy]' (expected [global], [server] or "
     "[balancer://NAME])"},
    {"DuplicateSection", kServer + "[global]\n[Server]\n",
     "drover.conf:4: duplicate section [Server] (first on line 1)"},
    {"BalancerWithoutName", kServer + "[balancer://]\n",
     "drover.conf:3: section [balancer://] has no balancer name"},
    {"InvalidBalancerName", kServer + "[balancer://a/b]\n",
     "drover.conf:3: invalid balancer name 'a/b' (letters, digits, '.', '_' and '-' only)"},
    {"DuplicateBalancer", kServer + kBal + "[balancer://c]\n",
     "drover.conf:5: duplicate balancer 'c' (first defined on line 3)"},
    {"BalancerWithoutMembers", kServer + "[balancer://empty]\nProxySet = growth=1\n",
     "drover.conf:3: balancer 'empty' has no BalancerMember"},
    // --- directives
    {"OutsideSection", "Listen = 80\n" + kServer,
     "drover.conf:1: directive 'Listen' outside any section (put it under [global] or [server])"},
    {"UnknownDirective", kServer + "Foo = bar\n",
     "drover.conf:3: unknown directive 'Foo' in [server]"},
    {"DirectiveInWrongSection", "[global]\nTimeout = 3\n" + kServer,
     "drover.conf:2: directive 'Timeout' belongs in [server], not in [global]"},
    {"MissingDirectiveName", kServer + "= 3\n", "drover.conf:3: missing directive name before '='"},
    {"SpaceInDirectiveName", kServer + "ProxyPass /a http://b\n",
     "drover.conf:3: syntax error: 'ProxyPass /a http' is not a directive name (missing '='?)"},
    {"DuplicateDirective", kServer + "Timeout = 3\n\ntimeout = 4\n",
     "drover.conf:5: Timeout: duplicate directive (first given on line 3)"},
    {"MissingValue", kServer + "Timeout =\n", "drover.conf:3: Timeout: missing value"},
    {"UnterminatedQuote", kServer + "ServerName = \"abc\n",
     "drover.conf:3: ServerName: unterminated quote in '\"abc'"},
    {"TextAfterQuote", kServer + "ServerName = \"a\"b\n",
     "drover.conf:3: ServerName: text after a closing quote in '\"a\"b'"},
    {"ExpectedOneValue", kServer + "ServerName = a b\n",
     "drover.conf:3: ServerName: expected one value, got 'a b'"},
    {"NoListen", "[server]\nTimeout = 3\n", "drover.conf: no Listen directive in [server]"},
    {"NoServerSection", "[global]\nUser = nobody\n",
     "drover.conf: no Listen directive in [server]"},
    // --- value types
    {"NotANumber", kServer + "LimitRequestLine = 8k\n",
     "drover.conf:3: LimitRequestLine: '8k' is not a number"},
    {"NumberOutOfRange", kServer + "LimitRequestLine = 10\n",
     "drover.conf:3: LimitRequestLine: '10' out of range 256-1048576"},
    {"NegativeNumber", kServer + "LimitRequestBody = -1\n",
     "drover.conf:3: LimitRequestBody: '-1' out of range 0-4611686018427387904"},
    {"NotADuration", kServer + "Timeout = soon\n",
     "drover.conf:3: Timeout: 'soon' is not a duration (seconds, or a number with a ms/s/m/h "
     "suffix)"},
    {"DurationOutOfRange", kServer + "Timeout = 0\n",
     "drover.conf:3: Timeout: '0' out of range 1ms-86400s"},
    {"NotABool", kServer + "ProxyVia = maybe\n",
     "drover.conf:3: ProxyVia: 'maybe' is not On or Off"},
    // --- [global]
    {"BadUser", "[global]\nUser = -x\n" + kServer,
     "drover.conf:2: User: '-x' is not a name or #id"},
    {"BadGroupId", "[global]\nGroup = #abc\n" + kServer,
     "drover.conf:2: Group: '#abc' is not a name or #id"},
    {"BadWorkerProcesses", "[global]\nWorkerProcesses = 0\n" + kServer,
     "drover.conf:2: WorkerProcesses: '0' is not auto or a number 1-1024"},
    {"BadWorkerConnections", "[global]\nWorkerConnections = 0\n" + kServer,
     "drover.conf:2: WorkerConnections: '0' out of range 1-1000000"},
    {"BadLogLevel", "[global]\nLogLevel = loud\n" + kServer,
     "drover.conf:2: LogLevel: unknown level 'loud' (emerg alert crit error warn notice info "
     "debug)"},
    {"BadGracefulShutdownTimeout", "[global]\nGracefulShutdownTimeout = 2d\n" + kServer,
     "drover.conf:2: GracefulShutdownTimeout: '2d' is not a duration (seconds, or a number "
     "with a ms/s/m/h suffix)"},
    // --- Listen
    {"ListenTooManyWords", "[server]\nListen = 1.2.3.4:80 ssl extra\n",
     "drover.conf:2: Listen: expected 'ADDR:PORT [ssl]', got '1.2.3.4:80 ssl extra'"},
    {"ListenUnknownOption", "[server]\nListen = 80 tls\n",
     "drover.conf:2: Listen: unknown option 'tls' (only 'ssl')"},
    {"ListenMissingBracket", "[server]\nListen = [::1:80\n",
     "drover.conf:2: Listen: '[::1:80': missing ']'"},
    {"ListenMissingPortAfterBracket", "[server]\nListen = [::1]\n",
     "drover.conf:2: Listen: '[::1]': missing port after ']'"},
    {"ListenUnbracketedIpv6", "[server]\nListen = ::1:80\n",
     "drover.conf:2: Listen: '::1:80': IPv6 addresses need brackets, e.g. [::1]:8080"},
    {"ListenBadPort", "[server]\nListen = 1.2.3.4:65536\n",
     "drover.conf:2: Listen: '1.2.3.4:65536': port '65536' out of range 1-65535"},
    {"ListenHostname", "[server]\nListen = localhost:80\n",
     "drover.conf:2: Listen: 'localhost:80': address must be a numeric IPv4 address, [IPv6] "
     "or *"},
    {"ListenTwice", "[server]\nListen = *:80\nListen = 0.0.0.0:80\n",
     "drover.conf:3: Listen: '0.0.0.0:80' is already listened on (line 2)"},
    {"SslListenWithoutCertificate", "[server]\nListen = 80\nListen = 443 ssl\n",
     "drover.conf:3: Listen: '443 ssl' needs SSLCertificateFile in [server]"},
    // --- other [server] directives
    {"BadServerName", kServer + "ServerName = a/b\n",
     "drover.conf:3: ServerName: invalid server name 'a/b'"},
    {"CustomLogTooManyWords", kServer + "CustomLog = a b c\n",
     "drover.conf:3: CustomLog: expected 'PATH [common|combined|\"FORMAT\"]' or 'off', got "
     "'a b c'"},
    {"CustomLogUnknownFormat", kServer + "CustomLog = a fancy\n",
     "drover.conf:3: CustomLog: unknown format 'fancy' (common, combined or a quoted \"%...\" "
     "format)"},
    {"BadStatusPath", kServer + "BalancerManager = status\n",
     "drover.conf:3: BalancerManager: 'status' is not off or a path starting with '/'"},
    {"SameStatusPaths", kServer + "Metrics = /s\nBalancerManager = /s\n",
     "drover.conf:4: BalancerManager and Metrics use the same path '/s'"},
    {"BadCidr", kServer + "StatusAllow = 10.0.0.0/33\n",
     "drover.conf:3: StatusAllow: '10.0.0.0/33' is not an IPv4 or IPv6 address or CIDR"},
    {"BadCidrAddress", kServer + "StatusAllow = ::1 localhost\n",
     "drover.conf:3: StatusAllow: 'localhost' is not an IPv4 or IPv6 address or CIDR"},
    {"BadSslProtocol", kServer + "SSLProtocol = SSLv3\n",
     "drover.conf:3: SSLProtocol: unsupported protocol 'SSLv3' (TLSv1.2, TLSv1.3, TLSv1.2+ or "
     "TLSv1.3+)"},
    {"BadSslProxyVerify", kServer + "SSLProxyVerify = optional\n",
     "drover.conf:3: SSLProxyVerify: 'optional' is not none or require"},
    {"CookieRuleOneWord", kServer + "ProxyPassReverseCookieDomain = internal\n",
     "drover.conf:3: ProxyPassReverseCookieDomain: expected 'INTERNAL PUBLIC', got 'internal'"},
    {"CookiePathThreeWords", kServer + "ProxyPassReverseCookiePath = /a /b /c\n",
     "drover.conf:3: ProxyPassReverseCookiePath: expected 'INTERNAL PUBLIC', got '/a /b /c'"},
    // --- ProxyPassReverse
    {"ReverseOneWord", kServer + "ProxyPassReverse = /\n",
     "drover.conf:3: ProxyPassReverse: expected 'PATH URL', got '/'"},
    {"ReverseRelativePath", kServer + "ProxyPassReverse = app http://h/\n",
     "drover.conf:3: ProxyPassReverse: path 'app' must start with '/'"},
    {"ReverseBadUrl", kServer + "ProxyPassReverse = / ftp://h/\n",
     "drover.conf:3: ProxyPassReverse: url 'ftp://h/': unsupported scheme 'ftp' (http://, "
     "https:// or ajp://)"},
    {"ReverseBalancerWithoutName", kServer + "ProxyPassReverse = / balancer:///x\n",
     "drover.conf:3: ProxyPassReverse: 'balancer:///x': missing balancer name"},
    {"ReverseBalancerTail", kServer + "ProxyPassReverse = / balancer://c?x\n" + kBal,
     "drover.conf:3: ProxyPassReverse: 'balancer://c?x': text after the balancer name must "
     "start with '/'"},
    {"ReverseUndefinedBalancer", kServer + "ProxyPassReverse = / balancer://nope/\n" + kBal,
     "drover.conf:3: ProxyPassReverse: balancer 'nope' is not defined"},
    // --- ProxyPass / ProxyPassMatch
    {"ProxyPassOneWord", kServer + "ProxyPass = /x\n",
     "drover.conf:3: ProxyPass: expected 'PATH URL [key=value ...]' or 'PATH !', got '/x'"},
    {"ProxyPassMatchOneWord", kServer + "ProxyPassMatch = ^/x\n",
     "drover.conf:3: ProxyPassMatch: expected 'REGEX URL [key=value ...]' or 'REGEX !', got "
     "'^/x'"},
    {"ProxyPassRelativePath", kServer + "ProxyPass = app http://h/\n",
     "drover.conf:3: ProxyPass: path 'app' must start with '/'"},
    {"RegexDoesNotCompile", kServer + "ProxyPassMatch = ^( balancer://c\n" + kBal,
     "drover.conf:3: ProxyPassMatch: regex '^(' does not compile: missing closing parenthesis "
     "at offset 2"},
    {"SomethingAfterExclusion", kServer + "ProxyPass = /x ! noquery\n",
     "drover.conf:3: ProxyPass: nothing may follow '!', got 'noquery'"},
    {"UndefinedBalancer", kServer + "ProxyPass = / balancer://nope\n" + kBal,
     "drover.conf:3: ProxyPass: balancer 'nope' is not defined"},
    {"UndefinedBalancerEarliestLine",
     kServer +
         "ProxyPass = /a balancer://c\nProxyPass = /b balancer://x\n"
         "ProxyPassMatch = ^/c balancer://y$1\n" +
         kBal,
     "drover.conf:4: ProxyPass: balancer 'x' is not defined"},
    {"BalancerTargetWithoutName", kServer + "ProxyPass = / balancer://\n",
     "drover.conf:3: ProxyPass: 'balancer://': missing balancer name"},
    {"BalancerTargetBadTail", kServer + "ProxyPass = / balancer://c$1\n" + kBal,
     "drover.conf:3: ProxyPass: 'balancer://c$1': text after the balancer name must start with "
     "'/'"},
    {"BalancerMatchTargetBadTail", kServer + "ProxyPassMatch = ^/ balancer://c?x\n" + kBal,
     "drover.conf:3: ProxyPassMatch: 'balancer://c?x': text after the balancer name must start "
     "with '/' or '$'"},
    {"MemberKeyOnBalancerTarget", kServer + "ProxyPass = / balancer://c route=x\n" + kBal,
     "drover.conf:3: ProxyPass: key 'route' is not allowed with a balancer:// target (only "
     "noquery; set balancer keys with ProxySet in [balancer://NAME])"},
    {"NotKeyValue", kServer + "ProxyPass = / http://h:1/ retry\n",
     "drover.conf:3: ProxyPass: 'retry' is not key=value"},
    {"BadNoquery", kServer + "ProxyPass = / http://h:1/ noquery=sometimes\n",
     "drover.conf:3: ProxyPass: noquery 'sometimes' is not On or Off"},
    {"ProxyPassBadUrl", kServer + "ProxyPass = / http://h:1/x?y=1\n",
     "drover.conf:3: ProxyPass: url 'http://h:1/x?y=1': a query or fragment is not allowed"},
    {"ProxyPassUnknownMemberKey", kServer + "ProxyPass = / http://h:1/ pong=1\n",
     "drover.conf:3: ProxyPass: unknown key 'pong'"},
    {"ImplicitKeysOnSecondUse",
     kServer + "ProxyPass = /a http://h:1/a\nProxyPass = /b http://h:1/b retry=1\n",
     "drover.conf:4: ProxyPass: member keys for 'http://h:1' must be given where it is first "
     "used (line 3)"},
    {"OriginTooLong", kServer + "ProxyPass = / http://" + std::string(130, 'h') + "/\n",
     "drover.conf:3: ProxyPass: origin 'http://" + std::string(130, 'h') +
         ":80' longer than 127 characters"},
    // --- BalancerMember
    {"MemberBadUrl", kServer + "[balancer://c]\nBalancerMember = 10.0.0.1:80\n",
     "drover.conf:4: BalancerMember: url '10.0.0.1:80': not an absolute URL (http://, https:// "
     "or ajp://)"},
    {"MemberNotKeyValue", kServer + "[balancer://c]\nBalancerMember = http://a:1 =x\n",
     "drover.conf:4: BalancerMember: '=x' is not key=value"},
    {"MemberUnknownKey", kServer + "[balancer://c]\nBalancerMember = http://a:1 weight=3\n",
     "drover.conf:4: BalancerMember: unknown key 'weight'"},
    {"MemberEmptyValue", kServer + "[balancer://c]\nBalancerMember = http://a:1 route=\n",
     "drover.conf:4: BalancerMember: route needs a value (route=...)"},
    {"MemberRouteTooLong",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 route=" + std::string(64, 'r') + "\n",
     "drover.conf:4: BalancerMember: route '" + std::string(64, 'r') +
         "' longer than 63 characters"},
    {"LoadfactorZero", kServer + "[balancer://c]\nBalancerMember = http://a:1 loadfactor=0\n",
     "drover.conf:4: BalancerMember: loadfactor '0' out of range 1-100"},
    {"LoadfactorTooBig",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 loadfactor=100.01\n",
     "drover.conf:4: BalancerMember: loadfactor '100.01' out of range 1-100"},
    {"LoadfactorThreeDecimals",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 loadfactor=1.005\n",
     "drover.conf:4: BalancerMember: loadfactor '1.005' is not a number (1-100, at most two "
     "decimals)"},
    {"LbsetOutOfRange", kServer + "[balancer://c]\nBalancerMember = http://a:1 lbset=100\n",
     "drover.conf:4: BalancerMember: lbset '100' out of range 0-99"},
    {"BadStatusLetter", kServer + "[balancer://c]\nBalancerMember = http://a:1 status=+X\n",
     "drover.conf:4: BalancerMember: status '+X' is not +/- and letters of I N D H R S E C "
     "(e.g. +H, -E, +DS)"},
    {"BadRetry", kServer + "[balancer://c]\nBalancerMember = http://a:1 retry=-1\n",
     "drover.conf:4: BalancerMember: retry '-1' is not a duration (seconds, or a number with a "
     "ms/s/m/h suffix)"},
    {"BadMemberTimeout", kServer + "[balancer://c]\nBalancerMember = http://a:1 timeout=0\n",
     "drover.conf:4: BalancerMember: timeout '0' out of range 1ms-86400s"},
    {"BadConnectionTimeout",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 connectiontimeout=fast\n",
     "drover.conf:4: BalancerMember: connectiontimeout 'fast' is not a duration (seconds, or a "
     "number with a ms/s/m/h suffix)"},
    {"BadDisablereuse", kServer + "[balancer://c]\nBalancerMember = http://a:1 disablereuse=2\n",
     "drover.conf:4: BalancerMember: disablereuse '2' is not On or Off"},
    {"BadMax", kServer + "[balancer://c]\nBalancerMember = http://a:1 max=-3\n",
     "drover.conf:4: BalancerMember: max '-3' out of range 0-1000000"},
    {"BadHcMethod", kServer + "[balancer://c]\nBalancerMember = http://a:1 hcmethod=POST\n",
     "drover.conf:4: BalancerMember: hcmethod 'POST' is not GET, HEAD, OPTIONS, TCP or CPING"},
    {"CpingOnHttp", kServer + "[balancer://c]\nBalancerMember = http://a:1 hcmethod=cping\n",
     "drover.conf:4: BalancerMember: hcmethod CPING is only for ajp:// members"},
    {"SecretOnHttp", kServer + "[balancer://c]\nBalancerMember = http://a:1 secret=x\n",
     "drover.conf:4: BalancerMember: secret is only for ajp:// members"},
    {"BadPing", kServer + "[balancer://c]\nBalancerMember = ajp://a:1 ping=0\n",
     "drover.conf:4: BalancerMember: ping '0' out of range 1ms-86400s"},
    {"SmallIoBufferSize", kServer + "[balancer://c]\nBalancerMember = ajp://a:1 iobuffersize=100\n",
     "drover.conf:4: BalancerMember: iobuffersize '100' must be 0 or at least 512 (Apache's rule)"},
    {"BadHcUri", kServer + "[balancer://c]\nBalancerMember = http://a:1 hcuri=health\n",
     "drover.conf:4: BalancerMember: hcuri 'health' must start with '/'"},
    {"HcIntervalTooShort",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 hcinterval=500ms\n",
     "drover.conf:4: BalancerMember: hcinterval '500ms' out of range 1s-86400s"},
    {"BadSlowStart", kServer + "[balancer://c]\nBalancerMember = http://a:1 slowstart=-5\n",
     "drover.conf:4: BalancerMember: slowstart '-5' is not a duration (seconds, or a number with "
     "a ms/s/m/h suffix)"},
    {"BadHcPasses", kServer + "[balancer://c]\nBalancerMember = http://a:1 hcpasses=0\n",
     "drover.conf:4: BalancerMember: hcpasses '0' out of range 1-1000"},
    {"BadHcFails", kServer + "[balancer://c]\nBalancerMember = http://a:1 hcfails=x\n",
     "drover.conf:4: BalancerMember: hcfails 'x' is not a number"},
    {"DuplicateMember",
     kServer + "[balancer://c]\nBalancerMember = http://a:80\nBalancerMember = HTTP://A\n",
     "drover.conf:5: BalancerMember: 'http://a:80' is already a member of balancer 'c' (line "
     "4)"},
    {"DuplicateRoute",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 route=n\n"
               "BalancerMember = http://b:1 route=n\n",
     "drover.conf:5: BalancerMember: route 'n' is already used by 'http://a:1' (line 4)"},
    {"UnknownRedirectRoute",
     kServer + "[balancer://c]\nBalancerMember = http://a:1 route=n1 redirect=n3\n"
               "BalancerMember = http://b:1 route=n2\n",
     "drover.conf:4: BalancerMember: redirect 'n3' is not the route of a member of balancer "
     "'c'"},
    // --- ProxySet
    {"ProxySetNotKeyValue", kServer + kBal + "ProxySet = byrequests\n",
     "drover.conf:5: ProxySet: 'byrequests' is not key=value"},
    {"ProxySetUnknownKey", kServer + kBal + "ProxySet = nonce=None\n",
     "drover.conf:5: ProxySet: unknown key 'nonce'"},
    {"ProxySetEmptyValue", kServer + kBal + "ProxySet = lbmethod=\n",
     "drover.conf:5: ProxySet: lbmethod needs a value (lbmethod=...)"},
    {"BadLbmethod", kServer + kBal + "ProxySet = lbmethod=heartbeat\n",
     "drover.conf:5: ProxySet: lbmethod 'heartbeat' is not byrequests, bybusyness or bytraffic"},
    {"BadStickysession", kServer + kBal + "ProxySet = stickysession=a|b|c\n",
     "drover.conf:5: ProxySet: stickysession 'a|b|c' is not NAME or COOKIENAME|URLPARAMNAME"},
    {"BadStickysessionsep", kServer + kBal + "ProxySet = stickysessionsep=::\n",
     "drover.conf:5: ProxySet: stickysessionsep '::' is not one character or Off"},
    {"BadScolonpathdelim", kServer + kBal + "ProxySet = scolonpathdelim=sure\n",
     "drover.conf:5: ProxySet: scolonpathdelim 'sure' is not On or Off"},
    {"BadNofailover", kServer + kBal + "ProxySet = nofailover=2\n",
     "drover.conf:5: ProxySet: nofailover '2' is not On or Off"},
    {"BadMaxattempts", kServer + kBal + "ProxySet = maxattempts=100\n",
     "drover.conf:5: ProxySet: maxattempts '100' out of range 0-99"},
    {"BadFailonstatus", kServer + kBal + "ProxySet = failonstatus=500,99\n",
     "drover.conf:5: ProxySet: failonstatus '99' out of range 100-599"},
    {"BadFailonstatusList", kServer + kBal + "ProxySet = failonstatus=500,,503\n",
     "drover.conf:5: ProxySet: failonstatus '' is not a number"},
    {"BadFailontimeout", kServer + kBal + "ProxySet = failontimeout=x\n",
     "drover.conf:5: ProxySet: failontimeout 'x' is not On or Off"},
    {"BadForcerecovery", kServer + kBal + "ProxySet = forcerecovery=x\n",
     "drover.conf:5: ProxySet: forcerecovery 'x' is not On or Off"},
    {"BadBalancerTimeout", kServer + kBal + "ProxySet = timeout=2d\n",
     "drover.conf:5: ProxySet: timeout '2d' is not a duration (seconds, or a number with a "
     "ms/s/m/h suffix)"},
    {"BadStickysessioninsert", kServer + kBal + "ProxySet = stickysessioninsert=x\n",
     "drover.conf:5: ProxySet: stickysessioninsert 'x' is not On or Off"},
    {"BadGrowth", kServer + kBal + "ProxySet = growth=101\n",
     "drover.conf:5: ProxySet: growth '101' out of range 0-100"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigErrorTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigErrorTest, LoadNamesAMissingFile) {
  LoadOptions o;
  o.file = "/nonexistent/drover.conf";
  auto r = Load(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "/nonexistent/drover.conf: cannot open (2: No such file or directory)");
}

TEST(ConfigErrorTest, ValueErrorsComeBeforeWholeFileChecks) {
  // Whole-file checks (here: the undefined balancer on line 3) run only once
  // every line has been read, so the bad value on line 5 is reported.
  EXPECT_EQ(Load(kServer + "ProxyPass = / balancer://nope\n[balancer://c]\n"
                           "BalancerMember = http://a:1 lbset=x\n"),
            "drover.conf:5: BalancerMember: lbset 'x' is not a number");
}

}  // namespace
}  // namespace drover::config
