; agentapp for Windows: a per-machine installer (NSIS 3), silent-capable for GPO/SCCM.
;
; Build (scripts/build-windows-installer.sh does this):
;   makensis -WX -DVERSION=0.1.0 -DPAYLOAD=dist\agentapp -DOUTFILE=agentapp-setup.exe agentapp.nsi
; PAYLOAD is the PyInstaller one-folder bundle built on Windows (agentapp.exe + _internal\).
;
; Silent install, site settings as parameters (values must not contain double quotes):
;   agentapp-setup.exe /S /SITE=\\fileserver\agentapp-site /SOURCE=hook
;       /RECORDINGKEY=MCowBQYDK2VuAyEA... /SIGNINGKEY=\\fileserver\keys\policy-signing.pem
;   (/SILENT is accepted as a synonym of /S; /D=C:\path sets the folder, last on the line.)
; Settings are checked by `agentapp machine configure` before anything is written; a refused
; setting stops the install with exit code 2 and the reason in the install log.
; Silent uninstall: "%ProgramFiles%\agentapp\uninstall.exe" /S   (add /PURGE to remove the
; machine settings too). Recordings are never removed: they are in each user's profile.

Unicode true
!ifndef VERSION
  !error "define VERSION: makensis -DVERSION=x.y.z"
!endif
!ifndef PAYLOAD
  !error "define PAYLOAD: the PyInstaller bundle folder (agentapp.exe and _internal)"
!endif
!ifndef OUTFILE
  !define OUTFILE "agentapp-${VERSION}-setup.exe"
!endif

!include "MUI2.nsh"
!include "nsDialogs.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!define APP "agentapp"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APP}"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
ShowInstDetails show
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "LegalCopyright" "Apache-2.0; bundled FFmpeg with x264/x265 is GPL"

Var SiteFolder
Var EventSource
Var RecordingKey
Var SigningKey
Var Field1
Var Field2
Var Field3
Var Field4

!ifndef LICENSE_FILE
  !define LICENSE_FILE "..\..\LICENSE"
!endif
!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"
!insertmacro MUI_PAGE_DIRECTORY
Page custom SettingsPage SettingsPageLeave
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "French"

Function .onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/SILENT" $R1
  ${IfNot} ${Errors}
    SetSilent silent
  ${EndIf}
  ${GetOptions} $R0 "/SITE=" $SiteFolder
  ${GetOptions} $R0 "/SOURCE=" $EventSource
  ${GetOptions} $R0 "/RECORDINGKEY=" $RecordingKey
  ${GetOptions} $R0 "/SIGNINGKEY=" $SigningKey
  ClearErrors
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APP} needs 64-bit Windows." /SD IDOK
    SetErrorLevel 1
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Function SettingsPage
  !insertmacro MUI_HEADER_TEXT "Site settings" "Leave a field empty to keep what is installed."
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateLabel} 0 0 100% 10u "Site folder (signed policy in, sealed recordings out):"
  ${NSD_CreateText} 0 11u 100% 12u "$SiteFolder"
  Pop $Field1
  ${NSD_CreateLabel} 0 28u 100% 10u "Call-event source (hook, baresip://..., ami://..., esl://...):"
  ${NSD_CreateText} 0 39u 100% 12u "$EventSource"
  Pop $Field2
  ${NSD_CreateLabel} 0 56u 100% 10u "Recording public key (.pem path or its base64 line):"
  ${NSD_CreateText} 0 67u 100% 12u "$RecordingKey"
  Pop $Field3
  ${NSD_CreateLabel} 0 84u 100% 10u "Policy-signing public key (.pem path or its base64 line):"
  ${NSD_CreateText} 0 95u 100% 12u "$SigningKey"
  Pop $Field4
  nsDialogs::Show
FunctionEnd

Function SettingsPageLeave
  ${NSD_GetText} $Field1 $SiteFolder
  ${NSD_GetText} $Field2 $EventSource
  ${NSD_GetText} $Field3 $RecordingKey
  ${NSD_GetText} $Field4 $SigningKey
FunctionEnd

; Ask running agents to close (they seal what they captured); never forced.
!macro StopAgents
  nsExec::Exec 'taskkill /IM ${APP}.exe'
  Pop $0
  Sleep 2000
!macroend

Section "agentapp" SecMain
  SectionIn RO
  SetShellVarContext all
  !insertmacro StopAgents
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; The machine settings, checked by the agent itself before anything is written.
  DetailPrint "Writing the site settings in $APPDATA\${APP}"
  nsExec::ExecToLog '"$INSTDIR\${APP}.exe" machine configure --system-dir "$APPDATA\${APP}" --site-folder "$SiteFolder" --event-source "$EventSource" --recording-key "$RecordingKey" --signing-key "$SigningKey"'
  Pop $0
  ${If} $0 != 0
    MessageBox MB_ICONSTOP "The site settings were refused (see the details); nothing was written. Run the installer again with correct settings." /SD IDOK
    SetErrorLevel 2
    Abort
  ${EndIf}

  ; The tray agent starts in every user's session.
  WriteRegStr HKLM "${RUN_KEY}" "${APP}" '"$INSTDIR\${APP}.exe" run'
  CreateShortCut "$SMPROGRAMS\${APP} trainer console.lnk" "$INSTDIR\${APP}.exe" "console"

  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "agentapp developers"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  SetShellVarContext all
  !insertmacro StopAgents
  DeleteRegValue HKLM "${RUN_KEY}" "${APP}"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  Delete "$SMPROGRAMS\${APP} trainer console.lnk"
  ; Only what the installer put there: never a recursive delete of a folder IT chose.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP}.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    RMDir /r "$APPDATA\${APP}"
  ${EndIf}
SectionEnd
