package web

import (
	"net/http"
	"strings"
)

// labels are the interface's words in English and Chinese; templates use
// them as {{.L.key}}.
var labels = map[string][2]string{
	"title":         {"acstore console", "acstore 控制台"},
	"search":        {"Search", "查询"},
	"reports":       {"Reports", "报表"},
	"branches":      {"Branches", "分支"},
	"users":         {"Users", "用户"},
	"audit":         {"Audit trail", "操作审计"},
	"logout":        {"Log out", "退出"},
	"login":         {"Log in", "登录"},
	"username":      {"User name", "用户名"},
	"password":      {"Password", "密码"},
	"table":         {"Table", "日志表"},
	"from":          {"From", "开始"},
	"to":            {"To", "结束"},
	"gateway":       {"Gateway", "网关"},
	"missingshards": {"Shards down, their gateways' rows are not in this answer", "以下分片不可用，其网关的记录不在结果中"},
	"shard":         {"Shard", "分片"},
	"user":          {"User", "用户"},
	"group":         {"Group", "用户组"},
	"ip":            {"IP or CIDR", "IP 或网段"},
	"app":           {"App", "应用"},
	"field":         {"Field", "字段"},
	"contains":      {"Contains", "包含"},
	"go":            {"Search", "查询"},
	"total":         {"rows", "条记录"},
	"count":         {"count", "计数"},
	"page":          {"Page", "页"},
	"prev":          {"Newer", "上一页"},
	"next":          {"Older", "下一页"},
	"all":           {"all", "全部"},
	"detail":        {"Row detail", "记录详情"},
	"mail":          {"Mail", "邮件"},
	"openmail":      {"Open mail", "查看邮件"},
	"attachments":   {"Attachments", "附件"},
	"notkept":       {"not kept", "未保存"},
	"body":          {"Body", "正文"},
	"headers":       {"Headers", "邮件头"},
	"by":            {"By", "维度"},
	"measure":       {"Measure", "指标"},
	"top":           {"Top", "前"},
	"run":           {"Show", "生成"},
	"csv":           {"Download CSV", "下载 CSV"},
	"tablesused":    {"Tables used", "使用的表"},
	"missing":       {"not present, not counted", "不存在，未计入"},
	"servertime":    {"server time", "服务器耗时"},
	"received":      {"Last received", "最后接收"},
	"loaded":        {"Last loaded", "最后入库"},
	"lag":           {"Lag", "延迟"},
	"backlog":       {"Backlog (windows)", "积压（窗口）"},
	"errors":        {"Last error", "最后错误"},
	"disk":          {"Disk", "磁盘"},
	"files":         {"Sync files", "同步文件"},
	"pending":       {"load_files waiting for loader", "等待入库的文件"},
	"oldest":        {"oldest", "最早"},
	"shipped":       {"This appliance ships", "本机上传"},
	"role":          {"Role", "角色"},
	"scopegw":       {"Gateways (empty: all)", "网关（空为全部）"},
	"scopegrp":      {"Groups (empty: all)", "用户组（空为全部）"},
	"add":           {"Add or replace", "添加或替换"},
	"delete":        {"Delete", "删除"},
	"when":          {"When", "时间"},
	"action":        {"Action", "操作"},
	"status":        {"Status", "状态"},
	"filter":        {"Filter", "条件"},
	"addr":          {"Address", "地址"},
	"none":          {"nothing found", "没有结果"},
	"scope":         {"You see only", "您只能查看"},
	"download":      {"download", "下载"},
	"dim_G":         {"group", "用户组"},
	"dim_U":         {"user", "用户"},
	"dim_I":         {"IP", "IP"},
	"dim_T":         {"app type", "应用类型"},
	"dim_A":         {"app", "应用"},
	"tbl_A":         {"A sessions", "A 会话"},
	"tbl_U":         {"U URLs", "U 网址"},
	"tbl_P":         {"P posts", "P 提交"},
	"tbl_M":         {"M mail", "M 邮件"},
	"tbl_C":         {"C logins", "C 登录凭据"},
	"tbl_O":         {"O files", "O 文件传输"},
	"tbl_I":         {"I chat", "I 聊天"},
	"tbl_S":         {"S TLS", "S TLS"},
	"tbl_Q":         {"Q DNS", "Q 域名解析"},
	"lang":          {"中文", "English"},
	"langcode":      {"zh", "en"},
	"error":         {"Error", "错误"},
	"forbidden":     {"Not allowed", "无权访问"},
	"toomany":       {"Too many failed logins; try again later", "登录失败次数过多，请稍后再试"},
	"badlogin":      {"Wrong user name or password", "用户名或密码错误"},
}

// L is the labels of one language.
type L map[string]string

var langs = func() map[string]L {
	m := map[string]L{"en": {}, "zh": {}}
	for k, v := range labels {
		m["en"][k], m["zh"][k] = v[0], v[1]
	}
	return m
}()

// langOf picks the language: ?lang=, then the cookie, then Accept-Language.
func langOf(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "zh" {
		http.SetCookie(w, &http.Cookie{Name: "acs_lang", Value: l, Path: "/", MaxAge: 365 * 86400, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie("acs_lang"); err == nil && (c.Value == "en" || c.Value == "zh") {
		return c.Value
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "zh") {
		return "zh"
	}
	return "en"
}
