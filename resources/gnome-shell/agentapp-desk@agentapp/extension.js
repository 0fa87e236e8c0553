/* agentapp's desk extension for GNOME Shell 43–44 (Wayland and Xorg sessions).
 *
 * Under Wayland no ordinary program may list the windows, hear a key pressed in another
 * application or draw above every window. This extension does those three things for the
 * agentapp recorder only, over the session bus (org.agentapp.Desk, /org/agentapp/Desk):
 *
 *   Windows() -> s        the windows, bottom to top, the lock state and what the
 *                         indicator shows, as JSON
 *   Indicate(s text)      show the words in the top bar ("" hides them)
 *   SetPauseKey(s accel) -> b   bind the secure pause ("<Control><Alt>p")
 *   signal Changed(t serial)    a window's title, class, place, size, stacking, focus or
 *                               state changed, or the session locked or unlocked
 *   signal PauseRequested()     the secure-pause key was pressed
 *
 * Every method call is refused unless the caller's process runs the installed agent
 * (CALLERS: /opt/agentapp/agentapp), read from /proc/<pid>/exe of the pid the bus daemon
 * gives: a program cannot choose it. It is not a setting, so no user can add a program. The signals are
 * sent to the callers that were let in, never broadcast. The indicator goes when the caller
 * that showed it leaves the bus (the agent stopped or died).
 */
'use strict';

const { Clutter, Gio, GLib, Meta, Shell, St } = imports.gi;
const ExtensionUtils = imports.misc.extensionUtils;
const Main = imports.ui.main;
const PanelMenu = imports.ui.panelMenu;

const BUS_NAME = 'org.agentapp.Desk';
const PATH = '/org/agentapp/Desk';
const IFACE = 'org.agentapp.Desk1';
const XML = `<node><interface name="${IFACE}">
  <method name="Windows"><arg type="s" direction="out" name="json"/></method>
  <method name="Indicate"><arg type="s" direction="in" name="text"/></method>
  <method name="SetPauseKey">
    <arg type="s" direction="in" name="accelerator"/><arg type="b" direction="out" name="bound"/>
  </method>
  <signal name="Changed"><arg type="t" name="serial"/></signal>
  <signal name="PauseRequested"/>
</interface></node>`;
const IDENTITY_SIGNALS = ['notify::title', 'notify::wm-class', 'notify::gtk-application-id'];
const WINDOW_SIGNALS = ['notify::minimized', 'notify::appears-focused', 'position-changed',
    'size-changed', 'workspace-changed'];
const MAX_TEXT = 200;
const CALLERS = ['/opt/agentapp/agentapp'];

class Desk {
    constructor(settings) {
        this._settings = settings;
        this._serial = 0;
        this._allowed = new Map();  // unique bus name -> watch id
        this._windowIds = new Map();  // MetaWindow -> its signal ids
        this._identity = new Map();  // MetaWindow -> how many times its identity changed
        this._ids = [];
        this._indicator = null;
        this._indicatorOwner = null;
        this._keyBound = false;
    }

    enable() {
        const info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0];
        this._registration = Gio.DBus.session.register_object(
            PATH, info, this._onCall.bind(this), null, null);
        this._owner = Gio.bus_own_name_on_connection(
            Gio.DBus.session, BUS_NAME, Gio.BusNameOwnerFlags.NONE, null, null);
        const display = global.display;
        this._ids.push([display, display.connect('window-created', (_d, w) => this._watch(w))]);
        this._ids.push([display, display.connect('restacked', () => this._changed())]);
        this._ids.push([display, display.connect('notify::focus-window', () => this._changed())]);
        const wm = global.workspace_manager;
        this._ids.push([wm, wm.connect('active-workspace-changed', () => this._changed())]);
        this._ids.push([Main.sessionMode, Main.sessionMode.connect('updated', () => this._changed())]);
        if (Main.screenShield)
            this._ids.push([Main.screenShield,
                Main.screenShield.connect('locked-changed', () => this._changed())]);
        for (const actor of global.get_window_actors())
            this._watch(actor.meta_window);
    }

    disable() {
        this._unbindKey();
        this._hide();
        for (const [obj, id] of this._ids)
            obj.disconnect(id);
        this._ids = [];
        for (const [w, ids] of this._windowIds)
            ids.forEach(id => w.disconnect(id));
        this._windowIds.clear();
        this._identity.clear();
        for (const watch of this._allowed.values())
            Gio.bus_unwatch_name(watch);
        this._allowed.clear();
        Gio.bus_unown_name(this._owner);
        Gio.DBus.session.unregister_object(this._registration);
    }

    _watch(w) {
        if (this._windowIds.has(w))
            return;
        const ids = WINDOW_SIGNALS.map(s => w.connect(s, () => this._changed()));
        this._identity.set(w, 0);
        for (const s of IDENTITY_SIGNALS) {
            ids.push(w.connect(s, () => {
                this._identity.set(w, (this._identity.get(w) || 0) + 1);
                this._changed();
            }));
        }
        ids.push(w.connect('unmanaged', () => {
            ids.forEach(id => w.disconnect(id));
            this._windowIds.delete(w);
            this._identity.delete(w);
            this._changed();
        }));
        this._windowIds.set(w, ids);
        this._changed();
    }

    _changed() {
        this._serial += 1;
        for (const name of this._allowed.keys()) {
            Gio.DBus.session.emit_signal(name, PATH, IFACE, 'Changed',
                new GLib.Variant('(t)', [this._serial]));
        }
    }

    _locked() {
        return Boolean(Main.sessionMode.isLocked ||
            (Main.screenShield && Main.screenShield.locked));
    }

    _windows() {
        const workspace = global.workspace_manager.get_active_workspace();
        const windows = global.get_window_actors().map(a => a.meta_window).filter(w => w);
        const out = windows.map(w => {
            const f = w.get_frame_rect();
            const b = w.get_buffer_rect();
            return {
                id: w.get_id(),
                title: (w.get_title() || '').slice(0, MAX_TEXT),
                wm_class: (w.get_wm_class() || '').slice(0, MAX_TEXT),
                wm_instance: (w.get_wm_class_instance() || '').slice(0, MAX_TEXT),
                app_id: (w.get_gtk_application_id() || w.get_sandboxed_app_id() || '')
                    .slice(0, MAX_TEXT),
                pid: w.get_pid(),
                identity: this._identity.get(w) || 0,
                frame: [f.x, f.y, f.width, f.height],
                buffer: [b.x, b.y, b.width, b.height],
                focus: w.has_focus(),
                minimized: w.minimized,
                shown: w.showing_on_its_workspace() && w.located_on_workspace(workspace),
                normal: w.get_window_type() === Meta.WindowType.NORMAL,
                above: w.is_above(),
                fullscreen: w.is_fullscreen(),
                x11: w.get_client_type() === Meta.WindowClientType.X11,
            };
        });
        const indicator = this._label ? this._label.text : '';
        return JSON.stringify({ serial: this._serial, locked: this._locked(), indicator,
            windows: out });
    }

    _onCall(connection, sender, _path, _iface, method, params, invocation) {
        this._check(sender).then(ok => {
            if (!ok) {
                invocation.return_dbus_error('org.agentapp.Desk.Error.AccessDenied',
                    'only the agentapp recorder may ask');
                return;
            }
            if (method === 'Windows') {
                invocation.return_value(new GLib.Variant('(s)', [this._windows()]));
            } else if (method === 'Indicate') {
                const [text] = params.deepUnpack();
                if (text)
                    this._show(String(text).slice(0, MAX_TEXT), sender);
                else
                    this._hide();
                invocation.return_value(null);
            } else if (method === 'SetPauseKey') {
                const [accel] = params.deepUnpack();
                invocation.return_value(new GLib.Variant('(b)', [this._bindKey(accel)]));
            } else {
                invocation.return_dbus_error('org.freedesktop.DBus.Error.UnknownMethod', method);
            }
        }).catch(e => {
            logError(e, 'agentapp-desk');
            invocation.return_dbus_error('org.agentapp.Desk.Error.Failed', String(e));
        });
    }

    /* Whether `sender` is a process of one of the allowed executables (asked once per
     * connection: a unique bus name is never given to another connection). */
    async _check(sender) {
        if (this._allowed.has(sender))
            return true;
        const pid = await new Promise((resolve, reject) => {
            Gio.DBus.session.call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                'org.freedesktop.DBus', 'GetConnectionUnixProcessID',
                new GLib.Variant('(s)', [sender]), new GLib.VariantType('(u)'),
                Gio.DBusCallFlags.NONE, 2000, null, (conn, res) => {
                    try {
                        resolve(conn.call_finish(res).deepUnpack()[0]);
                    } catch (e) {
                        reject(e);
                    }
                });
        });
        let exe;
        try {
            exe = GLib.file_read_link(`/proc/${pid}/exe`);
        } catch (e) {
            return false;
        }
        if (!CALLERS.includes(exe))
            return false;
        if (!this._allowed.has(sender)) {
            const watch = Gio.bus_watch_name_on_connection(Gio.DBus.session, sender,
                Gio.BusNameWatcherFlags.NONE, null, () => this._gone(sender));
            this._allowed.set(sender, watch);
        }
        return true;
    }

    _gone(sender) {
        const watch = this._allowed.get(sender);
        if (watch !== undefined)
            Gio.bus_unwatch_name(watch);
        this._allowed.delete(sender);
        if (this._indicatorOwner === sender)
            this._hide();
    }

    _show(text, owner) {
        if (!this._indicator) {
            this._indicator = new PanelMenu.Button(0.0, 'agentapp', true);
            this._label = new St.Label({
                y_align: Clutter.ActorAlign.CENTER,
                style: 'color: #ff4d4d; font-weight: bold;',
            });
            this._indicator.add_child(this._label);
            Main.panel.addToStatusArea('agentapp-recording', this._indicator, 0, 'right');
        }
        this._label.text = text;
        this._indicatorOwner = owner;
    }

    _hide() {
        if (this._indicator) {
            this._indicator.destroy();
            this._indicator = null;
            this._label = null;
        }
        this._indicatorOwner = null;
    }

    _bindKey(accel) {
        if (typeof accel !== 'string' || accel.length > 64)
            return false;
        const [ok] = validAccelerator(accel);
        if (!ok)
            return false;
        this._unbindKey();
        this._settings.set_strv('secure-pause', [accel]);
        const action = Main.wm.addKeybinding('secure-pause', this._settings,
            Meta.KeyBindingFlags.IGNORE_AUTOREPEAT,
            Shell.ActionMode.ALL, () => {
                for (const name of this._allowed.keys()) {
                    Gio.DBus.session.emit_signal(name, PATH, IFACE, 'PauseRequested', null);
                }
            });
        this._keyBound = action !== Meta.KeyBindingAction.NONE;
        return this._keyBound;
    }

    _unbindKey() {
        if (this._keyBound)
            Main.wm.removeKeybinding('secure-pause');
        this._keyBound = false;
    }
}

/* An accelerator the shell can bind: modifiers in angle brackets, then one key name. */
function validAccelerator(accel) {
    const m = /^((<(Control|Ctrl|Alt|Shift|Super)>)+)([A-Za-z0-9]|F[0-9]{1,2})$/.exec(accel);
    return [m !== null];
}

class Extension {
    enable() {
        this._desk = new Desk(ExtensionUtils.getSettings());
        this._desk.enable();
    }

    disable() {
        this._desk.disable();
        this._desk = null;
    }
}

function init() {
    return new Extension();
}
