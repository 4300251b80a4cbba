package console

import (
	"net/http"
	"strings"
)

// language picks "ru" or "en" from Accept-Language: the first language
// the console has, in the browser's order (q values as written order).
func language(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "ru"):
			return "ru"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

// T returns the text of key in lang (English when missing, the key when
// unknown: a test checks every key has both).
func T(lang, key string) string {
	if m, ok := texts[key]; ok {
		if s := m[lang]; s != "" {
			return s
		}
		return m["en"]
	}
	return key
}

var texts = map[string]map[string]string{
	"title":                    {"en": "airseal license server", "ru": "Сервер лицензий airseal"},
	"nav.overview":             {"en": "Overview", "ru": "Обзор"},
	"nav.licenses":             {"en": "Licenses", "ru": "Лицензии"},
	"nav.sessions":             {"en": "Sessions", "ru": "Сеансы"},
	"nav.devices":              {"en": "Devices", "ru": "Устройства"},
	"nav.users":                {"en": "Users", "ru": "Пользователи"},
	"nav.iplists":              {"en": "IP lists", "ru": "Списки IP"},
	"nav.audit":                {"en": "Audit log", "ru": "Журнал действий"},
	"nav.settings":             {"en": "Settings", "ru": "Настройки"},
	"logout":                   {"en": "Log out", "ru": "Выйти"},
	"readonly":                 {"en": "read-only (viewer)", "ru": "только просмотр (viewer)"},
	"login":                    {"en": "Log in", "ru": "Вход"},
	"user":                     {"en": "User", "ru": "Пользователь"},
	"password":                 {"en": "Password", "ru": "Пароль"},
	"pw.title":                 {"en": "Change your password", "ru": "Смена пароля"},
	"pw.forced":                {"en": "You logged in with a one-time password. Choose your own password (at least 10 characters) to continue.", "ru": "Вы вошли с одноразовым паролем. Задайте свой пароль (не короче 10 символов), чтобы продолжить."},
	"pw.old":                   {"en": "Current password", "ru": "Текущий пароль"},
	"pw.new":                   {"en": "New password", "ru": "Новый пароль"},
	"pw.again":                 {"en": "New password again", "ru": "Новый пароль ещё раз"},
	"save":                     {"en": "Save", "ru": "Сохранить"},
	"product":                  {"en": "Product", "ru": "Продукт"},
	"inuse":                    {"en": "In use / licensed", "ru": "Занято / всего"},
	"peak":                     {"en": "Peak", "ru": "Пик"},
	"unit":                     {"en": "Counting", "ru": "Учёт"},
	"devices.held":             {"en": "Devices", "ru": "Устройств"},
	"expires":                  {"en": "Expires", "ru": "Окончание"},
	"daysleft":                 {"en": "Days left", "ru": "Осталось дней"},
	"never":                    {"en": "never", "ru": "бессрочно"},
	"warn14":                   {"en": "ends within 14 days: renew the license or subscription", "ru": "заканчивается в ближайшие 14 дней: продлите лицензию или подписку"},
	"ended":                    {"en": "ended", "ru": "закончилась"},
	"noproducts":               {"en": "No license is installed. Install one on the Licenses page.", "ru": "Лицензии не установлены. Установите лицензию на странице «Лицензии»."},
	"pending.n":                {"en": "Devices waiting for approval", "ru": "Устройств ждут одобрения"},
	"lic.install":              {"en": "Install a license", "ru": "Установить лицензию"},
	"lic.file":                 {"en": "License file", "ru": "Файл лицензии"},
	"lic.code":                 {"en": "or the license code (typed or pasted)", "ru": "или код лицензии (набранный или вставленный)"},
	"lic.itn":                  {"en": "ITN (ИНН)", "ru": "ИНН"},
	"lic.iec":                  {"en": "IEC (КПП)", "ru": "КПП"},
	"lic.keyno":                {"en": "Key number", "ru": "Номер ключа"},
	"lic.kind":                 {"en": "Kind", "ru": "Вид"},
	"lic.seats":                {"en": "Seats", "ru": "Мест"},
	"lic.customer":             {"en": "Customer", "ru": "Покупатель"},
	"lic.state":                {"en": "State", "ru": "Состояние"},
	"lic.ok":                   {"en": "working", "ru": "работает"},
	"lic.notok":                {"en": "not working", "ru": "не работает"},
	"lic.none":                 {"en": "No license installed.", "ru": "Лицензий нет."},
	"remove":                   {"en": "Remove", "ru": "Удалить"},
	"confirm":                  {"en": "Are you sure?", "ru": "Вы уверены?"},
	"s.user":                   {"en": "User", "ru": "Пользователь"},
	"s.computer":               {"en": "Computer", "ru": "Компьютер"},
	"s.app":                    {"en": "Application", "ru": "Приложение"},
	"s.since":                  {"en": "Since", "ru": "С"},
	"s.expires":                {"en": "Lease until", "ru": "Аренда до"},
	"s.release":                {"en": "Force release", "ru": "Освободить"},
	"s.device":                 {"en": "device: unlink on Devices", "ru": "устройство: отвязать"},
	"s.none":                   {"en": "No session holds a seat.", "ru": "Ни один сеанс не занимает место."},
	"d.pending":                {"en": "Waiting for approval", "ru": "Ждут одобрения"},
	"d.others":                 {"en": "Registered devices", "ru": "Зарегистрированные устройства"},
	"d.code":                   {"en": "Device code", "ru": "Код устройства"},
	"d.name":                   {"en": "Name", "ru": "Название"},
	"d.app":                    {"en": "App", "ru": "Приложение"},
	"d.ip":                     {"en": "IP address", "ru": "IP-адрес"},
	"d.when":                   {"en": "Registered", "ru": "Запрос"},
	"d.state":                  {"en": "State", "ru": "Состояние"},
	"d.approve":                {"en": "Approve", "ru": "Одобрить"},
	"d.deny":                   {"en": "Deny", "ru": "Отклонить"},
	"d.unlink":                 {"en": "Unlink", "ru": "Отвязать"},
	"d.nopending":              {"en": "No device is waiting.", "ru": "Нет ожидающих устройств."},
	"d.none":                   {"en": "No device registered.", "ru": "Устройств нет."},
	"state.pending":            {"en": "pending", "ru": "ожидает"},
	"state.denied":             {"en": "denied", "ru": "отклонено"},
	"state.approved":           {"en": "approved", "ru": "одобрено"},
	"state.no_seat":            {"en": "no free seat (demo mode)", "ru": "нет свободной лицензии (демо-режим)"},
	"state.subscription_ended": {"en": "subscription ended (demo mode)", "ru": "подписка закончилась (демо-режим)"},
	"u.role":                   {"en": "Role", "ru": "Роль"},
	"u.pw":                     {"en": "Password", "ru": "Пароль"},
	"u.onetime":                {"en": "one-time, must be changed", "ru": "одноразовый, нужно сменить"},
	"u.set":                    {"en": "set", "ru": "задан"},
	"u.add":                    {"en": "Add a user", "ru": "Добавить пользователя"},
	"u.reset":                  {"en": "New one-time password", "ru": "Новый одноразовый пароль"},
	"u.newpass":                {"en": "One-time password for %s (shown once; it must be changed at the first login):", "ru": "Одноразовый пароль для %s (показан один раз; при первом входе его нужно сменить):"},
	"u.roles":                  {"en": "admin: everything; integration: opens sessions for others through the API; device: takes a seat for itself; viewer: reads the console.", "ru": "admin — всё; integration — открывает сеансы для других через API (внешнее подключение); device — занимает место для себя; viewer — только просмотр."},
	"ip.white":                 {"en": "Whitelist (whitelist.dat): always allowed, exempt from the login limit", "ru": "Белый список (whitelist.dat): всегда разрешены, без ограничения попыток входа"},
	"ip.black":                 {"en": "Blacklist (blacklist.dat): refused unless whitelisted", "ru": "Чёрный список (blacklist.dat): запрещены, если нет в белом списке"},
	"ip.help":                  {"en": "One entry a line: 192.168.1.1, 192.168.0.0/16, 192.168.0.1-192.168.0.100, IPv6 too; # starts a comment. A malformed line refuses the whole file.", "ru": "По одной записи в строке: 192.168.1.1, 192.168.0.0/16, 192.168.0.1-192.168.0.100, также IPv6; # — комментарий. Ошибка в строке — файл не принимается целиком."},
	"ip.disabled":              {"en": "The server runs without IP lists (--no-ip-lists).", "ru": "Сервер запущен без списков IP (--no-ip-lists)."},
	"ip.reloaderr":             {"en": "The files on disk were not applied; the previous lists stay in force:", "ru": "Файлы на диске не применены, действуют прежние списки:"},
	"a.time":                   {"en": "Time", "ru": "Время"},
	"a.who":                    {"en": "Who", "ru": "Кто"},
	"a.what":                   {"en": "Action", "ru": "Действие"},
	"a.from":                   {"en": "From", "ru": "Откуда"},
	"a.detail":                 {"en": "Details", "ru": "Подробности"},
	"a.newer":                  {"en": "newer", "ru": "новее"},
	"a.older":                  {"en": "older", "ru": "старее"},
	"a.none":                   {"en": "No admin action recorded yet.", "ru": "Действий администраторов пока нет."},
	"set.lease":                {"en": "Lease lifetime", "ru": "Время аренды места"},
	"set.lease.how":            {"en": "set with license-server serve --lease (1m to 60m); clients renew every fifth of it", "ru": "задаётся license-server serve --lease (от 1m до 60m); клиенты продлевают каждые 1/5 срока"},
	"set.sweep":                {"en": "Reclaim of expired leases every", "ru": "Освобождение просроченных мест каждые"},
	"set.unit":                 {"en": "Counting mode per product (signed into the license by the vendor)", "ru": "Режим учёта по продуктам (задан в лицензии поставщиком)"},
	"set.node":                 {"en": "Server node", "ru": "Узел сервера"},
	"set.key":                  {"en": "Response key", "ru": "Ключ ответов"},
	"page":                     {"en": "Page", "ru": "Страница"},
	"of":                       {"en": "of", "ru": "из"},
	"prev":                     {"en": "Previous", "ru": "Назад"},
	"next":                     {"en": "Next", "ru": "Вперёд"},
	"total":                    {"en": "total", "ru": "всего"},
	"error":                    {"en": "Error", "ru": "Ошибка"},
	"err.session":              {"en": "Your console session has ended; log in again.", "ru": "Сеанс работы с консолью закончился; войдите снова."},
	"err.csrf":                 {"en": "The form was refused: its security token is missing or wrong (CSRF). Reload the page and try again.", "ru": "Форма отклонена: нет или неверен токен защиты (CSRF). Обновите страницу и повторите."},
	"err.role":                 {"en": "Your role may not change anything here; ask an administrator.", "ru": "Ваша роль не позволяет вносить изменения; обратитесь к администратору."},
	"err.notfound":             {"en": "No such page.", "ru": "Нет такой страницы."},
	"err.form":                 {"en": "The form is incomplete", "ru": "Форма заполнена не полностью"},
	"err.limit":                {"en": "Too many failed logins from this address; try again in %d s.", "ru": "Слишком много неудачных попыток входа с этого адреса; повторите через %d с."},
	"err.busy":                 {"en": "The server is checking too many passwords at the moment; try again in %d s.", "ru": "Сервер сейчас проверяет слишком много паролей; повторите через %d с."},
	"err.login":                {"en": "Wrong user name or password.", "ru": "Неверное имя пользователя или пароль."},
	"err.consolerole":          {"en": "The console is for the admin and viewer roles; this user's role works through the API only.", "ru": "Консоль доступна ролям admin и viewer; эта роль работает только через API."},
	"err.mismatch":             {"en": "The two new passwords differ.", "ru": "Новые пароли не совпадают."},
	"err.oldpw":                {"en": "The current password is wrong.", "ru": "Текущий пароль неверен."},
	"err.nolicense":            {"en": "Choose a license file or paste its code.", "ru": "Выберите файл лицензии или вставьте её код."},
	"err.self":                 {"en": "You cannot remove yourself.", "ru": "Нельзя удалить самого себя."},
	"ok.password":              {"en": "Password changed.", "ru": "Пароль изменён."},
	"ok.installed":             {"en": "License installed:", "ru": "Лицензия установлена:"},
	"ok.removed":               {"en": "License removed:", "ru": "Лицензия удалена:"},
	"ok.released":              {"en": "Seat released:", "ru": "Место освобождено:"},
	"ok.saved":                 {"en": "Saved and applied:", "ru": "Сохранено и применено:"},
	"ok.done":                  {"en": "Done", "ru": "Выполнено"},
}
