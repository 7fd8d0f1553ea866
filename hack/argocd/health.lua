-- Argo CD health of an SFTJob (sftjob.dev/SFTJob), from the status the operator writes.
-- Install: argocd-cm, key resource.customizations.health.sftjob.dev_SFTJob (docs/gitops.md).
-- It uses only what Argo CD opens for such a script (base and table libraries, no string
-- library), so it needs no useOpenLibs.
--
-- Pending, Running, Restarting -> Progressing; Succeeded -> Healthy; Failed -> Degraded;
-- Suspended (spec.suspend), Queued and Preempted (waiting for Kueue to admit it) ->
-- Suspended; a job whose Stalled condition
-- is True (it cannot progress, e.g. unschedulable past its grace) -> Degraded.
local HEALTH = {
  Pending = "Progressing",
  Running = "Progressing",
  Restarting = "Progressing",
  Succeeded = "Healthy",
  Failed = "Degraded",
  Suspended = "Suspended",
  Queued = "Suspended",
  Preempted = "Suspended",
}

local hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a phase"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local function condition(kind)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

hs.status = HEALTH[status.phase] or "Unknown"
local stalled = condition("Stalled")
local is_stalled = stalled ~= nil and stalled.status == "True"
if is_stalled and hs.status == "Progressing" then
  hs.status = "Degraded"
end

-- The phase's reason: the Running condition carries it in every phase.
local running = condition("Running")
local reason = running and running.reason or nil
local message = status.phase
if reason ~= nil and reason ~= "" and reason ~= status.phase then
  message = message .. " (" .. reason .. ")"
end
if is_stalled and status.phase ~= "Failed" then
  message = message .. ", stalled"
end
local progress = status.progress
if progress ~= nil and progress.step ~= nil then
  message = message .. ", step " .. progress.step
  if progress.maxSteps ~= nil then
    message = message .. "/" .. progress.maxSteps
  end
  if progress.percent ~= nil then
    message = message .. " (" .. (progress.percent - progress.percent % 1) .. "%)"
  end
end
if status.message ~= nil and status.message ~= "" then
  message = message .. ": " .. status.message
end
hs.message = message
return hs
